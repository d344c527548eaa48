//! Compression formats recognised by their magic bytes, so users never have to say.

use std::io::{self, BufRead, BufReader, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Xz,
}

impl Compression {
    /// Identifies a stream from its first bytes.
    pub fn sniff(head: &[u8]) -> Compression {
        match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Compression::Xz,
            _ => Compression::None,
        }
    }

    /// The OCI layer media type for a layer blob compressed this way.
    pub fn layer_media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            Compression::Xz => "application/vnd.oci.image.layer.v1.tar+xz",
        }
    }
}

/// Wraps `reader` in the decompressor its first bytes call for.
pub fn decompress<'a>(reader: impl Read + 'a) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut buffered = BufReader::with_capacity(1 << 20, reader);
    let kind = Compression::sniff(buffered.fill_buf()?);
    Ok((kind, decoder(kind, buffered)?))
}

/// A decoder for a known compression.
pub fn decoder<'a>(kind: Compression, reader: impl BufRead + 'a) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match kind {
        Compression::None => Box::new(reader),
        // MultiGzDecoder: pigz and some registries write concatenated gzip members.
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(reader)),
    })
}

/// Whether a stream's first bytes are bzip2's magic: `BZh` and the block size digit.
fn is_bzip2(head: &[u8]) -> bool {
    matches!(head, [b'B', b'Z', b'h', b'1'..=b'9', ..])
}

/// Whether a stream starts compressed in any form [`decompress_any`] reads.
pub fn is_compressed(head: &[u8]) -> bool {
    Compression::sniff(head) != Compression::None || is_bzip2(head)
}

/// Like [`decompress`], and bzip2 too: Docker takes a build context compressed any way
/// its `DecompressStream` knows, bzip2 included. No layer media type names bzip2, so it
/// is no [`Compression`] and layers never take this path.
pub fn decompress_any<'a>(reader: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut buffered = BufReader::with_capacity(1 << 20, reader);
    let head = buffered.fill_buf()?;
    if is_bzip2(head) {
        return Ok(Box::new(bzip2::bufread::MultiBzDecoder::new(buffered)));
    }
    let kind = Compression::sniff(head);
    decoder(kind, buffered)
}

/// The compression an OCI or Docker layer media type declares, or None if unknown.
pub fn from_media_type(media_type: &str) -> Option<Compression> {
    Some(match media_type {
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar"
        | "application/vnd.docker.image.rootfs.diff.tar" => Compression::None,
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip"
        | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Compression::Gzip,
        "application/vnd.oci.image.layer.v1.tar+zstd"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
        | "application/vnd.docker.image.rootfs.diff.tar.zstd" => Compression::Zstd,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn roundtrip(kind: Compression, packed: Vec<u8>) {
        let (found, mut r) = decompress(&packed[..]).unwrap();
        assert_eq!(found, kind);
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!(out, "payload");
    }

    #[test]
    fn every_format_is_detected_and_decoded() {
        roundtrip(Compression::None, b"payload".to_vec());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"payload").unwrap();
        roundtrip(Compression::Gzip, gz.finish().unwrap());
        roundtrip(Compression::Zstd, zstd::encode_all(&b"payload"[..], 1).unwrap());
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(b"payload").unwrap();
        roundtrip(Compression::Xz, xz.finish().unwrap());
    }

    #[test]
    fn bzip2_is_read_only_where_any_compression_is_taken() {
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(b"payload").unwrap();
        let packed = bz.finish().unwrap();
        assert!(is_compressed(&packed));
        assert_eq!(
            Compression::sniff(&packed),
            Compression::None,
            "never a layer compression"
        );
        let mut out = String::new();
        decompress_any(&packed[..]).unwrap().read_to_string(&mut out).unwrap();
        assert_eq!(out, "payload");
        let mut plain = String::new();
        decompress_any(&b"BZ plain text"[..])
            .unwrap()
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(plain, "BZ plain text");
    }
}
