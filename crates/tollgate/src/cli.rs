//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

const ENV_HELP: &str = "\
Environment variables (override tollgate.toml):
  TOLLGATE_CONFIG              config file to load
  TOLLGATE_LISTEN              address:port to listen on (default 127.0.0.1:4747)
  TOLLGATE_DATA_DIR            data directory (default ~/.local/share/tollgate)
  TOLLGATE_MASTER_KEY          admin key, also accepted as a client key
  TOLLGATE_DATABASE_URL        database URL (default: SQLite in the data directory)
  TOLLGATE_RECORD_BODIES       store request/response bodies (default true)
  TOLLGATE_MAX_BODY_SIZE       largest request body (default 32MiB)
  TOLLGATE_MAX_MESSAGES        most messages per request (default 20000)
  TOLLGATE_CONNECT_TIMEOUT     upstream connect timeout (default 10s)
  TOLLGATE_FIRST_BYTE_TIMEOUT  upstream time to response headers (default 600s)
  TOLLGATE_IDLE_TIMEOUT        longest upstream silence mid-body (default 300s)
  TOLLGATE_SHUTDOWN_GRACE      drain time for in-flight requests on shutdown (default 30s)
  TOLLGATE_LOG                 log filter (default info)
  TOLLGATE_LOG_FORMAT          json or pretty (default json)
  TOLLGATE_<PROVIDER>_BASE_URL reach a provider through another endpoint,
                               e.g. TOLLGATE_ANTHROPIC_BASE_URL=https://api.anthropic.com,
                               TOLLGATE_OPENAI_BASE_URL=https://api.openai.com/v1
Provider keys enable providers: ANTHROPIC_API_KEY, OPENAI_API_KEY, OPENROUTER_API_KEY,
DEEPSEEK_API_KEY, GROQ_API_KEY, TOGETHER_API_KEY; local runtimes: OLLAMA_BASE_URL,
VLLM_BASE_URL, LLAMACPP_BASE_URL.";

#[derive(Debug, Parser)]
#[command(name = "tollgate", version, about = "A gateway between AI coding agents and the models they call", after_help = ENV_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the gateway.
    Serve {
        /// Config file (default: ./tollgate.toml if present, else DATA_DIR/tollgate.toml, written on first run).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Write a commented tollgate.toml with every setting at its default.
    Init {
        /// Where to write it.
        #[arg(default_value = "tollgate.toml")]
        path: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Validate a config file and the environment, and explain any errors.
    #[command(after_help = ENV_HELP)]
    CheckConfig {
        /// Config file (default: as for `serve`).
        path: Option<PathBuf>,
    },
}
