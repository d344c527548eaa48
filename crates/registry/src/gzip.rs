//! gzip for layers compressed on push, on every core. The input is cut into 1 MiB
//! chunks, each compressed on its own thread as one gzip member: RFC 1952 (2.2) makes a
//! gzip file a series of members, and every reader (Go's, zlib's, flate2's
//! `MultiGzDecoder`) decodes them as one stream. A chunk that cannot shrink (random or
//! already compressed bytes) is stored (deflate level 0): level 6 would spend some 15
//! times longer on it to gain nothing. The same input and level give the same bytes.

use flate2::write::GzEncoder;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::{mpsc, Mutex};

const CHUNK: usize = 1 << 20;
/// Bytes of a chunk tried at level 1 to see whether it shrinks at all.
const SAMPLE: usize = 64 << 10;

/// Compresses `input` into `out` with `threads` workers at deflate `level` (1–9).
pub fn compress(input: &mut dyn Read, out: &mut dyn Write, level: u32, threads: usize) -> io::Result<()> {
    let threads = threads.max(1);
    let (work_tx, work_rx) = mpsc::channel::<(usize, Vec<u8>)>();
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = mpsc::channel::<(usize, io::Result<Vec<u8>>)>();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (work_rx, done_tx) = (&work_rx, done_tx.clone());
            s.spawn(move || loop {
                let job = work_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok((index, chunk)) = job else { break };
                if done_tx.send((index, member(&chunk, level))).is_err() {
                    break;
                }
            });
        }
        drop(done_tx);
        // Dropping the sender on any exit path ends the workers.
        let work_tx = work_tx;
        let mut pending: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
        let (mut sent, mut written, mut eof) = (0, 0, false);
        loop {
            while !eof && sent - written - pending.len() < 2 * threads {
                let chunk = read_chunk(input)?;
                if chunk.is_empty() && sent > 0 {
                    eof = true;
                    break;
                }
                eof = chunk.len() < CHUNK;
                work_tx
                    .send((sent, chunk))
                    .map_err(|_| io::Error::other("compressor threads ended"))?;
                sent += 1;
            }
            if written == sent {
                return Ok(());
            }
            let (index, result) = done_rx
                .recv()
                .map_err(|_| io::Error::other("compressor threads ended"))?;
            pending.insert(index, result?);
            while let Some(bytes) = pending.remove(&written) {
                out.write_all(&bytes)?;
                written += 1;
            }
        }
    })
}

/// Reads up to one chunk (less only at the end of the input).
fn read_chunk(input: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut chunk = Vec::with_capacity(CHUNK);
    input.take(CHUNK as u64).read_to_end(&mut chunk)?;
    Ok(chunk)
}

/// One gzip member holding `chunk`.
fn member(chunk: &[u8], level: u32) -> io::Result<Vec<u8>> {
    let level = if shrinks(chunk) { level.clamp(1, 9) } else { 0 };
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(chunk.len() / 2 + 64),
        flate2::Compression::new(level),
    );
    encoder.write_all(chunk)?;
    encoder.finish()
}

/// Whether deflate can gain anything: bytes spread evenly over all 256 values (over 7.9
/// bits of entropy each) leave only repeats within its 32 KiB window, which a quick
/// level-1 try on samples from the start and the middle would find.
fn shrinks(chunk: &[u8]) -> bool {
    if entropy_bits(chunk) < 7.9 {
        return true;
    }
    let middle = chunk.len() / 2;
    [
        &chunk[..chunk.len().min(SAMPLE)],
        &chunk[middle..chunk.len().min(middle + SAMPLE)],
    ]
    .iter()
    .any(|sample| {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = e.write_all(sample);
        e.finish()
            .map_or(true, |c| (c.len() as f64) < sample.len() as f64 * 0.97)
    })
}

/// Shannon entropy of the byte values, in bits per byte.
fn entropy_bits(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u64; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::MultiGzDecoder;

    fn noise(len: usize, mut seed: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    }

    fn round_trip(input: &[u8], threads: usize) -> Vec<u8> {
        let mut out = Vec::new();
        compress(&mut &input[..], &mut out, 6, threads).unwrap();
        let mut back = Vec::new();
        MultiGzDecoder::new(&out[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, input);
        out
    }

    #[test]
    fn members_decode_to_the_input_and_are_reproducible() {
        let mut input = b"hello layers ".repeat(300_000);
        input.extend(noise(3 << 20, 7));
        let one = round_trip(&input, 1);
        let three = round_trip(&input, 3);
        assert_eq!(one, three, "the thread count does not change the bytes");
        assert!(one.len() < input.len() - 3_000_000, "text shrinks: {}", one.len());
        assert!(one.len() < input.len() + 1000, "noise is stored, not inflated");
    }

    #[test]
    fn empty_and_exact_chunk_inputs_are_valid_gzip() {
        assert!(!round_trip(&[], 2).is_empty());
        round_trip(&noise(CHUNK, 3), 2);
        round_trip(&noise(2 * CHUNK + 1, 5), 2);
    }

    #[test]
    fn noise_is_stored_and_text_is_compressed() {
        assert!(!shrinks(&noise(CHUNK, 11)));
        assert!(shrinks(&b"abc".repeat(100_000)));
        // Even bytes that repeat within deflate's window are found.
        let block = noise(4096, 13);
        assert!(shrinks(&block.repeat(256)));
    }
}
