//! Blob transfers: downloads that resume with Range requests after a broken connection,
//! small documents read whole, existence checks, uploads and cross-repository mounts.

use crate::client::{Client, Payload, Scope};
use crate::error::{RegistryError, Result};
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use strata_content::{Digest, Hasher};
use ureq::BodyReader;

/// Failed reads tolerated in one download, each followed by a Range request.
const RESUMES: u32 = 5;

/// A blob being downloaded. A read that fails (connection reset, stalled server,
/// truncated body) reconnects and continues from the byte where it stopped; at most
/// the announced size is ever read, so a server cannot fill the disk.
pub struct BlobReader<'a> {
    client: &'a Client,
    repository: &'a str,
    digest: &'a Digest,
    size: u64,
    offset: u64,
    body: Option<BodyReader<'static>>,
    failures: u32,
    /// Set when the download gave up on the network (its bytes so far are worth keeping).
    gave_up: Option<&'a AtomicBool>,
}

impl<'a> BlobReader<'a> {
    pub fn new(client: &'a Client, repository: &'a str, digest: &'a Digest, size: u64) -> Self {
        BlobReader {
            client,
            repository,
            digest,
            size,
            offset: 0,
            body: None,
            failures: 0,
            gave_up: None,
        }
    }

    /// Starts at byte `offset` (the bytes before it are already here).
    pub fn starting_at(mut self, offset: u64) -> Self {
        self.offset = offset.min(self.size);
        self
    }

    /// Sets `flag` when the download fails for the network's sake.
    pub fn reporting(mut self, flag: &'a AtomicBool) -> Self {
        self.gave_up = Some(flag);
        self
    }

    fn open(&mut self) -> io::Result<BodyReader<'static>> {
        let url = self
            .client
            .url(&format!("/v2/{}/blobs/{}", self.repository, self.digest));
        let range = format!("bytes={}-", self.offset);
        let headers: Vec<(&str, &str)> = if self.offset > 0 {
            vec![("Range", &range)]
        } else {
            Vec::new()
        };
        let response = self
            .client
            .send("GET", &url, &Scope::pull(self.repository), &headers, Payload::Empty)
            .map_err(io::Error::other)?;
        let status = response.status().as_u16();
        let what = format!("blob {} of {}/{}", self.digest, self.client.registry(), self.repository);
        if !(status == 200 || status == 206) {
            return Err(io::Error::other(self.client.status_error(&what, response)));
        }
        let mut body = response.into_body().into_reader();
        if self.offset > 0 && status == 200 {
            // The server ignored the Range header: skip what we already have.
            io::copy(&mut (&mut body).take(self.offset), &mut io::sink())?;
        }
        Ok(body)
    }
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let left = self.size - self.offset;
            if left == 0 || buf.is_empty() {
                return Ok(0);
            }
            let result = match &mut self.body {
                Some(body) => {
                    let want = buf.len().min(left.min(usize::MAX as u64) as usize);
                    match body.read(&mut buf[..want]) {
                        Ok(0) => Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!(
                                "the registry ended the blob after {} of {} bytes",
                                self.offset, self.size
                            ),
                        )),
                        other => other,
                    }
                }
                None => match self.open() {
                    Ok(body) => {
                        self.body = Some(body);
                        continue;
                    }
                    Err(e) => Err(e),
                },
            };
            match result {
                Ok(n) => {
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) => {
                    self.body = None;
                    self.failures += 1;
                    if self.failures > RESUMES {
                        if let Some(flag) = self.gave_up {
                            flag.store(true, Ordering::Relaxed);
                        }
                        return Err(io::Error::new(
                            e.kind(),
                            format!("downloading {} failed {} times, last: {e}", self.digest, self.failures),
                        ));
                    }
                    log::warn!("downloading {}: {e}; resuming at byte {}", self.digest, self.offset);
                    std::thread::sleep(Duration::from_millis(100 * u64::from(self.failures)));
                }
            }
        }
    }
}

impl Client {
    /// A small blob (an image config) read whole and checked against its digest.
    pub fn fetch_document(&self, repository: &str, digest: &Digest, size: u64, limit: u64) -> Result<Vec<u8>> {
        let what = format!("blob {digest} of {}/{repository}", self.registry());
        if size > limit {
            return Err(RegistryError::invalid(
                what,
                format!("it is {size} bytes; at most {limit} are accepted"),
            ));
        }
        let mut bytes = Vec::new();
        BlobReader::new(self, repository, digest, size)
            .read_to_end(&mut bytes)
            .map_err(|e| RegistryError::io(what.clone(), e))?;
        verify(&bytes, digest, &what)?;
        Ok(bytes)
    }

    /// The blob's size when the repository has it.
    pub fn blob_exists(&self, repository: &str, digest: &Digest) -> Result<Option<u64>> {
        let url = self.url(&format!("/v2/{repository}/blobs/{digest}"));
        let response = self.send("HEAD", &url, &Scope::push(repository), &[], Payload::Empty)?;
        match response.status().as_u16() {
            200 => Ok(Some(
                response
                    .headers()
                    .get("content-length")
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .unwrap_or(0),
            )),
            404 => Ok(None),
            _ => Err(self.status_error(&format!("checking blob {digest} in {repository}"), response)),
        }
    }

    /// Asks the registry to link a blob from another of its repositories. Returns true
    /// when it did; false when it started an ordinary upload instead (its session is
    /// abandoned: the registry expires it).
    pub fn mount_blob(&self, repository: &str, digest: &Digest, from: &str) -> Result<bool> {
        let url = self.url(&format!("/v2/{repository}/blobs/uploads/?mount={digest}&from={from}"));
        let scope = Scope::push(repository).and_pull(from);
        let response = self.send(
            "POST",
            &url,
            &scope,
            &[],
            Payload::Bytes(&[], "application/octet-stream"),
        )?;
        match response.status().as_u16() {
            201 => Ok(true),
            202 => Ok(false),
            _ => Err(self.status_error(&format!("mounting blob {digest} into {repository}"), response)),
        }
    }

    /// Opens an upload session; returns its location.
    pub fn start_upload(&self, repository: &str) -> Result<String> {
        let what = format!("uploading a blob to {}/{repository}", self.registry());
        let url = self.url(&format!("/v2/{repository}/blobs/uploads/"));
        let response = self.send(
            "POST",
            &url,
            &Scope::push(repository),
            &[],
            Payload::Bytes(&[], "application/octet-stream"),
        )?;
        if response.status().as_u16() != 202 {
            return Err(self.status_error(&what, response));
        }
        self.location(&response, &what)
    }

    /// Streams a blob of unknown length into an upload session (one chunked PATCH);
    /// returns the session's next location.
    pub fn upload_stream(&self, repository: &str, location: &str, reader: &mut dyn Read) -> Result<String> {
        let what = format!("uploading a blob to {}/{repository}", self.registry());
        let response = self.send(
            "PATCH",
            location,
            &Scope::push(repository),
            &[],
            Payload::Stream(reader, None),
        )?;
        if response.status().as_u16() != 202 {
            return Err(self.status_error(&what, response));
        }
        self.location(&response, &what)
    }

    /// Closes an upload session as `digest`, sending `rest` (bytes and length) with it.
    pub fn finish_upload(
        &self,
        repository: &str,
        location: &str,
        digest: &Digest,
        rest: Option<(&mut dyn Read, u64)>,
    ) -> Result<()> {
        let what = format!("uploading blob {digest} to {}/{repository}", self.registry());
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={digest}");
        let payload = match rest {
            Some((reader, n)) => Payload::Stream(reader, Some(n)),
            None => Payload::Bytes(&[], "application/octet-stream"),
        };
        let response = self.send("PUT", &url, &Scope::push(repository), &[], payload)?;
        if response.status().as_u16() != 201 {
            return Err(self.status_error(&what, response));
        }
        Ok(())
    }

    /// Uploads a blob whose digest and length are known, in one PUT.
    pub fn upload_blob(&self, repository: &str, digest: &Digest, reader: &mut dyn Read, size: u64) -> Result<()> {
        let location = self.start_upload(repository)?;
        self.finish_upload(repository, &location, digest, Some((reader, size)))
    }
}

/// Checks bytes against the digest that names them.
pub fn verify(bytes: &[u8], digest: &Digest, what: &str) -> Result<()> {
    let mut hasher = Hasher::for_digest(digest).map_err(|e| RegistryError::invalid(what, e.to_string()))?;
    hasher.update(bytes);
    let actual = hasher.finish();
    if &actual != digest {
        return Err(RegistryError::invalid(
            what,
            format!("digest mismatch: expected {digest}, the bytes received hash to {actual}; nothing was stored"),
        ));
    }
    Ok(())
}
