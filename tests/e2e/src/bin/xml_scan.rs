//! The yardstick of `make bench`: a bare quick-xml event scan of every file of an export, one
//! thread, with the transformer's buffering (64 KiB reader, one event buffer reused). Whatever
//! the transformer costs beyond this is its own work.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use quick_xml::events::Event;

#[derive(Debug, Parser)]
#[command(about = "Scan every XML file below a directory with quick-xml and count its events")]
struct Args {
    /// The export directory.
    dir: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut paths = Vec::new();
    let mut pending = vec![args.dir.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                paths.push(path);
            }
        }
    }
    paths.sort();
    let (mut events, mut bytes) = (0u64, 0u64);
    for path in &paths {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut reader = quick_xml::Reader::from_reader(BufReader::with_capacity(64 * 1024, file));
        reader.config_mut().check_end_names = true;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_event_into(&mut buf).with_context(|| format!("{} is not XML", path.display()))? {
                Event::Eof => break,
                _ => events += 1,
            }
        }
        bytes += reader.buffer_position();
    }
    println!("{} files, {bytes} bytes, {events} events", paths.len());
    Ok(())
}
