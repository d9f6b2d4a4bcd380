//! `tooldelta keygen`: an Ed25519 key pair as OpenSSL-compatible PEM files.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use tooldelta_core::signing::{KeyId, generate_key, public_key_pem, secret_key_pem};

use crate::{Context, output};

/// Arguments of `keygen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the secret key (PKCS#8 PEM, mode 0600).
    #[arg(long, value_name = "FILE")]
    secret: PathBuf,
    /// Where to write the public key (SPKI PEM).
    #[arg(long, value_name = "FILE")]
    public: PathBuf,
    /// Replace existing files.
    #[arg(long)]
    force: bool,
}

pub fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    for path in [&args.secret, &args.public] {
        if path.exists() && !args.force {
            bail!(
                "{} already exists; pass --force to replace it",
                path.display()
            );
        }
    }
    let key = generate_key();
    let id = KeyId::of(&key.verifying_key());
    write_secret(&args.secret, secret_key_pem(&key).as_bytes())?;
    output::write_atomic(
        &args.public,
        public_key_pem(&key.verifying_key()).as_bytes(),
    )?;
    if ctx.json {
        output::print_json(&serde_json::json!({
            "public_key_id": id,
            "secret": args.secret,
            "public": args.public,
        }))?;
    } else {
        eprintln!(
            "wrote {} (secret) and {} (public)",
            args.secret.display(),
            args.public.display()
        );
        println!("{id}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The secret key is created 0600 from the start, never widened then narrowed.
fn write_secret(path: &Path, pem: &[u8]) -> Result<()> {
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(pem)?;
    file.sync_all()?;
    Ok(())
}
