//! First-run setup that touches the data directory: the generated master key.

use std::io::Write;
use std::path::Path;

use rand::RngCore;
use tollgate_config::{Config, Secret};

pub const MASTER_KEY_FILE: &str = "master.key";

/// Makes sure `config` has a master key: the configured one, else the one kept in the data
/// directory, else a new one written there (mode 0600). Returns the key when it was just
/// generated, so the caller can show it once.
pub fn ensure_master_key(config: &mut Config) -> std::io::Result<Option<String>> {
    if config.master_key.is_some() {
        return Ok(None);
    }
    let path = config.data_dir.join(MASTER_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            config.master_key = Some(Secret::new(text.trim()));
            return Ok(None);
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let key = format!("tg-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
    write_private(&path, &key)?;
    config.master_key = Some(Secret::new(key.clone()));
    Ok(Some(key))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn generates_once_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let env: BTreeMap<String, String> =
            [("TOLLGATE_DATA_DIR".to_owned(), dir.path().display().to_string())]
                .into_iter()
                .collect();
        let mut c = tollgate_config::load(None, &env).unwrap();
        let key = ensure_master_key(&mut c).unwrap().unwrap();
        assert!(key.starts_with("tg-") && key.len() == 51);
        let mut c2 = tollgate_config::load(None, &env).unwrap();
        assert_eq!(ensure_master_key(&mut c2).unwrap(), None);
        assert_eq!(c2.master_key.unwrap().expose(), key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode =
                std::fs::metadata(dir.path().join(MASTER_KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
