//! Test images: deterministic layer tars written into OCI image layouts (tug's store or
//! a directory skopeo reads).

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::Digest as _;

/// Deterministic bytes that gzip cannot shrink (xorshift from `seed`).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// An uncompressed tar of regular files (mode 0644, mtime 0).
pub fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    crate::files_tar(files, 0o644, 0)
}

fn sha256(data: &[u8]) -> String {
    let h = sha2::Sha256::digest(data);
    let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A descriptor of something written into a layout.
#[derive(Debug, Clone)]
pub struct Desc {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

impl Desc {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size})
    }
}

/// An OCI image layout being written (for tug's store, `<root>/images`, or for skopeo).
pub struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    pub fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).expect("create layout");
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
            .expect("write oci-layout");
        if !dir.join("index.json").exists() {
            std::fs::write(
                dir.join("index.json"),
                r#"{"schemaVersion":2,"manifests":[]}"#,
            )
            .expect("write index.json");
        }
        Layout {
            dir: dir.to_path_buf(),
        }
    }

    /// Writes a blob; returns its descriptor.
    pub fn blob(&self, media_type: &str, data: &[u8]) -> Desc {
        let digest = sha256(data);
        let hex = digest.trim_start_matches("sha256:");
        std::fs::write(self.dir.join("blobs/sha256").join(hex), data).expect("write blob");
        Desc {
            media_type: media_type.into(),
            digest,
            size: data.len() as u64,
        }
    }

    /// Writes an image of these uncompressed layer tars (gzipped at `level`) for `arch`;
    /// returns its manifest's descriptor.
    pub fn image(&self, tars: &[Vec<u8>], arch: &str, level: u32) -> Desc {
        use flate2::write::GzEncoder;
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for t in tars {
            diff_ids.push(sha256(t));
            let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            gz.write_all(t).expect("gzip");
            let data = gz.finish().expect("gzip");
            layers.push(self.blob("application/vnd.oci.image.layer.v1.tar+gzip", &data));
        }
        let config = serde_json::json!({
            "architecture": arch, "os": "linux",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config = self.blob(
            "application/vnd.oci.image.config.v1+json",
            config.to_string().as_bytes(),
        );
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config.json(),
            "layers": layers.iter().map(Desc::json).collect::<Vec<_>>(),
        });
        self.blob(
            "application/vnd.oci.image.manifest.v1+json",
            manifest.to_string().as_bytes(),
        )
    }

    /// Writes an OCI index of these manifests with their platforms (`linux/amd64`).
    pub fn index(&self, entries: &[(Desc, &str)]) -> Desc {
        let manifests: Vec<serde_json::Value> = entries
            .iter()
            .map(|(d, platform)| {
                let (os, arch) = platform.split_once('/').expect("os/arch");
                let mut j = d.json();
                j["platform"] = serde_json::json!({"os": os, "architecture": arch});
                j
            })
            .collect();
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        });
        self.blob(
            "application/vnd.oci.image.index.v1+json",
            index.to_string().as_bytes(),
        )
    }

    /// Names `desc` in index.json with the ref.name annotation `name`.
    pub fn tag(&self, desc: &Desc, name: &str) {
        let path = self.dir.join("index.json");
        let mut index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read index.json"))
                .expect("parse index.json");
        let mut j = desc.json();
        j["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": name});
        index["manifests"]
            .as_array_mut()
            .expect("manifests")
            .push(j);
        std::fs::write(&path, index.to_string()).expect("write index.json");
    }

    /// The manifest digest named `name` in index.json, if any.
    pub fn lookup(&self, name: &str) -> Option<String> {
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.dir.join("index.json")).ok()?).ok()?;
        index["manifests"].as_array()?.iter().find_map(|m| {
            (m["annotations"]["org.opencontainers.image.ref.name"] == name)
                .then(|| m["digest"].as_str().map(str::to_string))
                .flatten()
        })
    }

    /// Reads a blob by digest.
    pub fn read_blob(&self, digest: &str) -> Vec<u8> {
        std::fs::read(
            self.dir
                .join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .expect("read blob")
    }
}

/// Every file under `dir` with its size, sorted: to show a directory did not change.
pub fn tree(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                out.push((p.strip_prefix(dir).unwrap_or(&p).to_path_buf(), len));
            }
        }
    }
    out.sort();
    out
}
