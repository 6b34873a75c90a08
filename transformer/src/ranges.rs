//! Sets of IP addresses as sorted, merged ranges: what the IP, domain and network-range rules
//! need (merge consecutive addresses, drop duplicates, intersect VM with PC, count addresses).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// An address family's integer form.
pub trait Address: Copy + Ord + fmt::Debug {
    fn successor(self) -> Option<Self>;
    fn predecessor(self) -> Option<Self>;
    fn render(self) -> String;
    /// Number of addresses in `start..=end`, saturating.
    fn span(start: Self, end: Self) -> u128;
}

impl Address for u32 {
    fn successor(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn predecessor(self) -> Option<Self> {
        self.checked_sub(1)
    }
    fn render(self) -> String {
        Ipv4Addr::from(self).to_string()
    }
    fn span(start: Self, end: Self) -> u128 {
        u128::from(end - start) + 1
    }
}

impl Address for u128 {
    fn successor(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn predecessor(self) -> Option<Self> {
        self.checked_sub(1)
    }
    fn render(self) -> String {
        Ipv6Addr::from(self).to_string()
    }
    fn span(start: Self, end: Self) -> u128 {
        (end - start).saturating_add(1)
    }
}

/// A set of addresses as disjoint, non-adjacent ranges in increasing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSet<A: Address> {
    ranges: Vec<(A, A)>,
}

impl<A: Address> Default for RangeSet<A> {
    fn default() -> Self {
        RangeSet { ranges: Vec::new() }
    }
}

impl<A: Address> RangeSet<A> {
    /// Normalises any ranges: sorted, overlapping and adjacent ones merged.
    pub fn from_ranges(ranges: impl IntoIterator<Item = (A, A)>) -> Self {
        let mut all: Vec<(A, A)> = ranges.into_iter().map(|(a, b)| if a <= b { (a, b) } else { (b, a) }).collect();
        all.sort_unstable();
        let mut merged: Vec<(A, A)> = Vec::with_capacity(all.len());
        for (start, end) in all {
            match merged.last_mut() {
                Some((_, last_end)) if last_end.successor().is_none_or(|next| start <= next) => {
                    if end > *last_end {
                        *last_end = end;
                    }
                }
                _ => merged.push((start, end)),
            }
        }
        RangeSet { ranges: merged }
    }

    pub fn ranges(&self) -> &[(A, A)] {
        &self.ranges
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn address_count(&self) -> u128 {
        self.ranges.iter().map(|&(a, b)| A::span(a, b)).fold(0u128, u128::saturating_add)
    }

    pub fn union(&self, other: &Self) -> Self {
        RangeSet::from_ranges(self.ranges.iter().chain(&other.ranges).copied())
    }

    pub fn intersection(&self, other: &Self) -> Self {
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < self.ranges.len() && j < other.ranges.len() {
            let (a_start, a_end) = self.ranges[i];
            let (b_start, b_end) = other.ranges[j];
            let start = a_start.max(b_start);
            let end = a_end.min(b_end);
            if start <= end {
                out.push((start, end));
            }
            if a_end < b_end { i += 1 } else { j += 1 }
        }
        RangeSet { ranges: out }
    }

    pub fn difference(&self, other: &Self) -> Self {
        let mut out = Vec::new();
        let mut j = 0;
        for &(start, end) in &self.ranges {
            let mut cursor = Some(start);
            while j < other.ranges.len() && other.ranges[j].1 < start {
                j += 1;
            }
            let mut k = j;
            while let Some(from) = cursor {
                let Some(&(cut_start, cut_end)) = other.ranges.get(k).filter(|&&(s, _)| s <= end) else {
                    out.push((from, end));
                    break;
                };
                if cut_start > from {
                    out.push((from, cut_start.predecessor().expect("cut_start > from")));
                }
                cursor = if cut_end >= end { None } else { cut_end.successor().map(|n| n.max(from)) };
                k += 1;
            }
        }
        RangeSet { ranges: out }
    }
}

/// IPv4 and IPv6 addresses together, as IP lists carry both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpSet {
    pub v4: RangeSet<u32>,
    pub v6: RangeSet<u128>,
}

impl IpSet {
    pub fn from_entries(entries: &[IpEntry]) -> IpSet {
        IpSet {
            v4: RangeSet::from_ranges(entries.iter().filter_map(|e| match e {
                IpEntry::V4(a, b) => Some((*a, *b)),
                IpEntry::V6(..) => None,
            })),
            v6: RangeSet::from_ranges(entries.iter().filter_map(|e| match e {
                IpEntry::V6(a, b) => Some((*a, *b)),
                IpEntry::V4(..) => None,
            })),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    pub fn union(&self, other: &IpSet) -> IpSet {
        IpSet { v4: self.v4.union(&other.v4), v6: self.v6.union(&other.v6) }
    }

    pub fn intersection(&self, other: &IpSet) -> IpSet {
        IpSet { v4: self.v4.intersection(&other.v4), v6: self.v6.intersection(&other.v6) }
    }

    pub fn difference(&self, other: &IpSet) -> IpSet {
        IpSet { v4: self.v4.difference(&other.v4), v6: self.v6.difference(&other.v6) }
    }

    /// IPv4 ranges first, then IPv6, each in increasing order.
    pub fn entries(&self) -> Vec<IpEntry> {
        let v4 = self.v4.ranges().iter().map(|&(a, b)| IpEntry::V4(a, b));
        v4.chain(self.v6.ranges().iter().map(|&(a, b)| IpEntry::V6(a, b))).collect()
    }
}

/// One address, range or CIDR block as written in an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpEntry {
    V4(u32, u32),
    V6(u128, u128),
}

impl IpEntry {
    /// As Qualys writes it: a single address, or `start-end`.
    pub fn render(&self) -> String {
        fn one<A: Address>(start: A, end: A) -> String {
            if start == end { start.render() } else { format!("{}-{}", start.render(), end.render()) }
        }
        match *self {
            IpEntry::V4(a, b) => one(a, b),
            IpEntry::V6(a, b) => one(a, b),
        }
    }

    pub fn address_count(&self) -> u128 {
        match *self {
            IpEntry::V4(a, b) => u32::span(a, b),
            IpEntry::V6(a, b) => u128::span(a, b),
        }
    }

    /// First and last address on one line that orders IPv4 before IPv6.
    fn bounds(&self) -> ((u8, u128), (u8, u128)) {
        match *self {
            IpEntry::V4(a, b) => ((4, u128::from(a)), (4, u128::from(b))),
            IpEntry::V6(a, b) => ((6, a), (6, b)),
        }
    }

    /// Whether every address of `self` comes before every address of `other`.
    pub fn before(&self, other: &IpEntry) -> bool {
        self.bounds().1 < other.bounds().0
    }
}

/// Parses `10.0.0.1`, `10.0.0.1-10.0.0.9`, `10.0.0.0/24` and their IPv6 forms.
pub fn parse_entry(text: &str) -> Result<IpEntry, String> {
    let text = text.trim();
    if let Some((address, prefix)) = text.split_once('/') {
        let prefix: u32 = prefix.trim().parse().map_err(|_| format!("`{text}`: the prefix length is not a number"))?;
        return match parse_address(address)? {
            IpEntry::V4(base, _) if prefix <= 32 => {
                let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
                Ok(IpEntry::V4(base & mask, base | !mask))
            }
            IpEntry::V6(base, _) if prefix <= 128 => {
                let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) };
                Ok(IpEntry::V6(base & mask, base | !mask))
            }
            _ => Err(format!("`{text}`: prefix length /{prefix} is too long")),
        };
    }
    if let Some((start, end)) = text.split_once('-') {
        return match (parse_address(start)?, parse_address(end)?) {
            (IpEntry::V4(a, _), IpEntry::V4(b, _)) if a <= b => Ok(IpEntry::V4(a, b)),
            (IpEntry::V6(a, _), IpEntry::V6(b, _)) if a <= b => Ok(IpEntry::V6(a, b)),
            (IpEntry::V4(..), IpEntry::V4(..)) | (IpEntry::V6(..), IpEntry::V6(..)) => {
                Err(format!("`{text}`: the range ends before it starts"))
            }
            _ => Err(format!("`{text}`: the range mixes IPv4 and IPv6")),
        };
    }
    parse_address(text)
}

fn parse_address(text: &str) -> Result<IpEntry, String> {
    let text = text.trim();
    if let Ok(v4) = text.parse::<Ipv4Addr>() {
        let n = u32::from(v4);
        return Ok(IpEntry::V4(n, n));
    }
    if let Ok(v6) = text.parse::<Ipv6Addr>() {
        let n = u128::from(v6);
        return Ok(IpEntry::V6(n, n));
    }
    Err(format!("`{text}` is not an IP address"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4(text: &str) -> u32 {
        u32::from(text.parse::<Ipv4Addr>().expect("address"))
    }

    #[test]
    fn consecutive_and_overlapping_ranges_merge() {
        let set = RangeSet::from_ranges([
            (v4("10.0.0.5"), v4("10.0.0.9")),
            (v4("10.0.0.1"), v4("10.0.0.4")),
            (v4("10.0.0.7"), v4("10.0.0.12")),
        ]);
        assert_eq!(set.ranges(), [(v4("10.0.0.1"), v4("10.0.0.12"))]);
        assert_eq!(IpEntry::V4(set.ranges()[0].0, set.ranges()[0].1).render(), "10.0.0.1-10.0.0.12");
        assert_eq!(set.address_count(), 12);
    }

    #[test]
    fn cidr_ranges_and_ipv6_parse() {
        assert_eq!(parse_entry("192.168.1.0/30"), Ok(IpEntry::V4(v4("192.168.1.0"), v4("192.168.1.3"))));
        assert_eq!(parse_entry("10.0.0.9/0"), Ok(IpEntry::V4(0, u32::MAX)));
        assert!(matches!(parse_entry("2001:db8::1-2001:db8::ff"), Ok(IpEntry::V6(_, _))));
        assert!(parse_entry("10.0.0.9-10.0.0.1").is_err());
        assert!(parse_entry("10.0.0.1-2001:db8::1").is_err());
        assert!(parse_entry("host.example").is_err());
        assert!(parse_entry("10.0.0.0/33").is_err());
    }

    #[test]
    fn the_edges_of_the_address_space_do_not_overflow() {
        let set = RangeSet::from_ranges([(u32::MAX - 1, u32::MAX), (0, 0)]);
        assert_eq!(set.ranges(), &[(0, 0), (u32::MAX - 1, u32::MAX)]);
        let hole = RangeSet::from_ranges([(0, u32::MAX)]).difference(&RangeSet::from_ranges([(5, 5)]));
        assert_eq!(hole.ranges(), &[(0, 4), (6, u32::MAX)]);
        assert_eq!(RangeSet::from_ranges([(0, u32::MAX)]).address_count(), 1u128 << 32);
    }

    fn small_ranges() -> impl Strategy<Value = Vec<(u32, u32)>> {
        prop::collection::vec((0u32..200, 0u32..8).prop_map(|(s, len)| (s, s + len)), 0..20)
    }

    fn members(ranges: &[(u32, u32)]) -> std::collections::BTreeSet<u32> {
        ranges.iter().flat_map(|&(a, b)| a..=b).collect()
    }

    proptest! {
        #[test]
        fn set_operations_agree_with_sets_of_addresses(a in small_ranges(), b in small_ranges()) {
            let (sa, sb) = (RangeSet::from_ranges(a.clone()), RangeSet::from_ranges(b.clone()));
            let (ma, mb) = (members(&a), members(&b));
            prop_assert_eq!(members(sa.ranges()), ma.clone());
            prop_assert_eq!(members(sa.union(&sb).ranges()), &ma | &mb);
            prop_assert_eq!(members(sa.intersection(&sb).ranges()), &ma & &mb);
            prop_assert_eq!(members(sa.difference(&sb).ranges()), &ma - &mb);
            // Normal form: increasing, neither overlapping nor adjacent.
            for pair in sa.union(&sb).ranges().windows(2) {
                prop_assert!(pair[0].1 + 1 < pair[1].0);
            }
            prop_assert_eq!(sa.address_count(), ma.len() as u128);
        }
    }
}
