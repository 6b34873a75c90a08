//! Sets of IPv4 addresses kept as sorted, merged ranges, so that a subscription holding whole
//! private address blocks (the migration guide recommends adding 10.0.0.0/8) stays small.

use std::fmt;
use std::net::Ipv4Addr;

use crate::xml::Element;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Ipv4Set {
    /// Inclusive, sorted, disjoint and never adjacent.
    ranges: Vec<(u32, u32)>,
}

/// A value that is not an IP address, a range `a-b` with `a <= b`, or a list of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadIp(pub String);

impl fmt::Display for BadIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Ipv4Set {
    /// Parses Qualys's comma-separated list of addresses and `start-end` ranges.
    pub fn parse_list(list: &str) -> Result<Self, BadIp> {
        let mut set = Ipv4Set::default();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (lo, hi) = parse_range(item)?;
            set.insert(lo, hi);
        }
        Ok(set)
    }

    /// Reads an `IP_SET` (children `IP` and `IP_RANGE`), as lists and asset groups carry it.
    pub fn from_ip_set(el: &Element) -> Result<Self, BadIp> {
        let mut set = Ipv4Set::default();
        for child in el.elements().filter(|c| c.name == "IP" || c.name == "IP_RANGE") {
            let (lo, hi) = parse_range(&child.value())?;
            set.insert(lo, hi);
        }
        Ok(set)
    }

    /// Writes an `IP_SET`: single addresses as `IP`, consecutive ones as one `IP_RANGE`.
    pub fn to_ip_set(&self) -> Element {
        let mut el = Element::new("IP_SET");
        for &(lo, hi) in &self.ranges {
            if lo == hi {
                el.push(Element::text("IP", Ipv4Addr::from(lo).to_string()));
            } else {
                el.push(Element::text("IP_RANGE", format!("{}-{}", Ipv4Addr::from(lo), Ipv4Addr::from(hi))));
            }
        }
        el
    }

    pub fn insert(&mut self, lo: u32, hi: u32) {
        self.ranges.push((lo, hi));
        self.ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(self.ranges.len());
        for &(lo, hi) in &self.ranges {
            match merged.last_mut() {
                Some(last) if u64::from(lo) <= u64::from(last.1) + 1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        self.ranges = merged;
    }

    pub fn union_with(&mut self, other: &Ipv4Set) {
        for &(lo, hi) in &other.ranges {
            self.insert(lo, hi);
        }
    }

    pub fn subtract(&mut self, other: &Ipv4Set) {
        for &(lo, hi) in &other.ranges {
            self.remove(lo, hi);
        }
    }

    fn remove(&mut self, lo: u32, hi: u32) {
        let mut kept = Vec::with_capacity(self.ranges.len() + 1);
        for &(a, b) in &self.ranges {
            if b < lo || a > hi {
                kept.push((a, b));
                continue;
            }
            if a < lo {
                kept.push((a, lo - 1));
            }
            if b > hi {
                kept.push((hi + 1, b));
            }
        }
        self.ranges = kept;
    }

    pub fn intersection(&self, other: &Ipv4Set) -> Ipv4Set {
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < self.ranges.len() && j < other.ranges.len() {
            let (a, b) = self.ranges[i];
            let (c, d) = other.ranges[j];
            let (lo, hi) = (a.max(c), b.min(d));
            if lo <= hi {
                out.push((lo, hi));
            }
            if b < d {
                i += 1;
            } else {
                j += 1;
            }
        }
        Ipv4Set { ranges: out }
    }

    pub fn contains(&self, addr: u32) -> bool {
        self.ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&addr))
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of addresses.
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|&(lo, hi)| u64::from(hi - lo) + 1).sum()
    }
}

/// The comma list form (`a,b-c`) used by request parameters.
impl fmt::Display for Ipv4Set {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(lo, hi)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}", Ipv4Addr::from(lo))?;
            if lo != hi {
                write!(f, "-{}", Ipv4Addr::from(hi))?;
            }
        }
        Ok(())
    }
}

/// One address or one `start-end` range.
pub(crate) fn parse_range(item: &str) -> Result<(u32, u32), BadIp> {
    let bad = || BadIp(item.to_owned());
    let addr = |s: &str| s.trim().parse::<Ipv4Addr>().map(u32::from).map_err(|_| bad());
    let (lo, hi) = match item.split_once('-') {
        Some((a, b)) => (addr(a)?, addr(b)?),
        None => {
            let a = addr(item)?;
            (a, a)
        }
    };
    if lo > hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(list: &str) -> Ipv4Set {
        Ipv4Set::parse_list(list).expect("valid list")
    }

    #[test]
    fn merges_consecutive_addresses_into_ranges() {
        let s = set("10.0.0.5,10.0.0.1-10.0.0.4,10.0.0.9, 10.0.0.6");
        assert_eq!(s.to_string(), "10.0.0.1-10.0.0.6,10.0.0.9");
        assert_eq!(s.len(), 7);
        let xml = s.to_ip_set();
        assert_eq!(xml.all("IP_RANGE").count(), 1);
        assert_eq!(xml.child_value("IP").as_deref(), Some("10.0.0.9"));
        assert_eq!(Ipv4Set::from_ip_set(&xml), Ok(s));
    }

    #[test]
    fn subtracts_and_intersects() {
        let mut s = set("10.0.0.0-10.0.0.255");
        s.subtract(&set("10.0.0.10-10.0.0.19,10.0.0.255"));
        assert_eq!(s.to_string(), "10.0.0.0-10.0.0.9,10.0.0.20-10.0.0.254");
        assert_eq!(s.intersection(&set("10.0.0.5-10.0.0.25")).to_string(), "10.0.0.5-10.0.0.9,10.0.0.20-10.0.0.25");
        assert!(s.contains(u32::from(Ipv4Addr::new(10, 0, 0, 30))));
        assert!(!s.contains(u32::from(Ipv4Addr::new(10, 0, 0, 15))));
    }

    #[test]
    fn handles_the_ends_of_the_address_space() {
        let mut s = set("0.0.0.0,255.255.255.255");
        s.insert(u32::MAX - 1, u32::MAX);
        s.subtract(&set("0.0.0.0"));
        assert_eq!(s.to_string(), "255.255.255.254-255.255.255.255");
    }

    #[test]
    fn rejects_what_is_not_an_address_or_range() {
        for bad in ["10.0.0.300", "10.0.0.0/24", "10.0.0.9-10.0.0.1", "host.example"] {
            assert_eq!(Ipv4Set::parse_list(bad), Err(BadIp(bad.to_owned())), "{bad}");
        }
    }
}
