//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tollgate_store::export::Format;

const ENV_HELP: &str = "\
Environment variables (override tollgate.toml):
  TOLLGATE_CONFIG              config file to load
  TOLLGATE_LISTEN              address:port to listen on (default 127.0.0.1:4747)
  TOLLGATE_DATA_DIR            data directory (default ~/.local/share/tollgate)
  TOLLGATE_MASTER_KEY          admin key, also accepted as a client key
  TOLLGATE_DATABASE_URL        database URL (default: SQLite in the data directory)
  TOLLGATE_RECORD              record exchanges in the history at all (default true)
  TOLLGATE_RECORD_BODIES       store request/response bodies (default true)
  TOLLGATE_HISTORY_RETENTION   drop stored bodies older than this, e.g. 30d (default: keep)
  TOLLGATE_HISTORY_TITLE_MODEL provider:model that titles quiet sessions (default: off)
  TOLLGATE_HISTORY_TITLE_AFTER quiet time before a session is titled (default 10m)
  TOLLGATE_MAX_BODY_SIZE       largest request body (default 32MiB)
  TOLLGATE_MAX_MESSAGES        most messages per request (default 20000)
  TOLLGATE_CONNECT_TIMEOUT     upstream connect timeout (default 10s)
  TOLLGATE_FIRST_BYTE_TIMEOUT  upstream time to response headers (default 600s)
  TOLLGATE_IDLE_TIMEOUT        longest upstream silence mid-body (default 300s)
  TOLLGATE_SHUTDOWN_GRACE      drain time for in-flight requests on shutdown (default 30s)
  TOLLGATE_LOG                 log filter (default info)
  TOLLGATE_LOG_FORMAT          json or pretty (default json)
  TOLLGATE_OTLP_ENDPOINT       export traces over OTLP/HTTP (default: off)
  TOLLGATE_SERVICE_NAME        service name on exported traces (default tollgate)
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
    /// Read the recorded history: list, show, search, export, purge. Reads the database
    /// directly, so it works whether or not the gateway is running.
    #[command(after_help = HISTORY_HELP)]
    History {
        /// Config file that names the database (default: as for `serve`).
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
        /// The database to read instead of the configured one: a SQLite file, `sqlite://PATH`
        /// or `postgres://...`.
        #[arg(long, global = true, value_name = "URL|PATH")]
        database: Option<String>,
        #[command(subcommand)]
        command: HistoryCommand,
    },
    /// Inspect automatic routing offline: how a request would be routed, and what routing has
    /// saved against always using the strongest model.
    #[command(after_help = ROUTE_HELP)]
    Route {
        #[command(subcommand)]
        command: RouteCommand,
    },
}

const ROUTE_HELP: &str = "\
Examples:
  tollgate route explain \"What is 2+2?\"
  tollgate route explain --dialect openai-chat --model auto request.json
  cat request.json | tollgate route explain --json -
  tollgate route report --since 30d
  tollgate route report --synthetic --baseline anthropic:claude-opus-4-5";

const EXPLAIN_HELP: &str = "\
The request is planned as the gateway would plan it right now with nothing yet called: no
provider probed, no breaker open, no measured success. Nothing is sent anywhere.

Input: a single argument naming an existing file is read as a request body (a routing fixture,
with `name`, `dialect` and `body`, works too); `-` reads the body from stdin; anything else is a
prompt, sent as the only user message of a minimal request.

Examples:
  tollgate route explain \"What is 2+2?\"
  tollgate route explain --model anthropic:claude-haiku-4-5 \"Refactor src/lib.rs\"
  tollgate route explain --dialect openai-responses --json body.json
  pbpaste | tollgate route explain --dialect openai-chat -";

const REPORT_HELP: &str = "\
From the history (the default): per category, the deployments requests were routed to, with
requests, success rate, tokens and actual cost, against the estimated cost of the same tokens
(cache reads and writes included) on the baseline.

With --synthetic: every request in a directory of routing fixtures (JSON files with `name`,
`dialect` and `body`; default: the fixtures built into tollgate) is planned with the config's
catalog as `auto`, and its cost estimated on the chosen deployment from its estimated input
tokens and min(max_tokens, 1000) output tokens.

The baseline is --baseline, else the most expensive current strong-tier built-in model an
enabled provider serves, else anthropic:claude-opus-4-5.

Examples:
  tollgate route report
  tollgate route report --since 2026-11-01 --json
  tollgate route report --database ~/.local/share/tollgate/tollgate.db --baseline openai:gpt-5
  tollgate route report --synthetic
  tollgate route report --synthetic ./my-fixtures";

#[derive(Debug, Subcommand)]
pub enum RouteCommand {
    /// Show how a request would be routed: mode, reason, classification, chosen deployments and
    /// every candidate considered.
    #[command(after_help = EXPLAIN_HELP)]
    Explain {
        /// Config file (default: as for `serve`).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The dialect the request is written in (default: anthropic, or a fixture file's own).
        #[arg(long, value_enum)]
        dialect: Option<DialectArg>,
        /// The model to ask for (`auto`, an alias, `provider:model`); overrides the body's.
        /// Default for a prompt: `auto`.
        #[arg(long)]
        model: Option<String>,
        /// The decision document as JSON.
        #[arg(long)]
        json: bool,
        /// A request body file, `-` for stdin, or the words of a prompt.
        #[arg(value_name = "FILE | - | PROMPT", required = true)]
        input: Vec<String>,
    },
    /// Cost of the routes taken (or that would be taken) against sending everything to the
    /// strongest model, per category.
    #[command(after_help = REPORT_HELP)]
    Report {
        /// Config file (default: as for `serve`).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The history database to read instead of the configured one: a SQLite file,
        /// `sqlite://PATH` or `postgres://...`.
        #[arg(long, value_name = "URL|PATH", conflicts_with = "synthetic")]
        database: Option<String>,
        /// Exchanges started at or after this time (default 7d).
        #[arg(long, value_name = "DATE|DURATION", conflicts_with = "synthetic")]
        since: Option<String>,
        /// The `provider:model` to compare against.
        #[arg(long, value_name = "PROVIDER:MODEL")]
        baseline: Option<String>,
        /// Plan routing fixtures instead of reading the history: those in DIR, or the built-in
        /// ones.
        #[arg(long, value_name = "DIR", num_args = 0..=1)]
        synthetic: Option<Option<PathBuf>>,
        /// The report as one JSON document.
        #[arg(long)]
        json: bool,
    },
}

/// A client dialect, as `--dialect` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DialectArg {
    Anthropic,
    OpenaiChat,
    OpenaiResponses,
}

impl DialectArg {
    /// The tag routing uses (`tollgate_routing::features::ANTHROPIC`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anthropic => tollgate_routing::features::ANTHROPIC,
            Self::OpenaiChat => tollgate_routing::features::OPENAI_CHAT,
            Self::OpenaiResponses => tollgate_routing::features::OPENAI_RESPONSES,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Anthropic, Self::OpenaiChat, Self::OpenaiResponses]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

const HISTORY_HELP: &str = "\
Times are UTC. DATE|DURATION is a duration back from now (30m, 2h, 7d), a date (2026-11-01),
a date and time (2026-11-01T09:30, optionally with Z or +02:00), or unix milliseconds.

Examples:
  tollgate history list --since 2h
  tollgate history list --sessions --since 7d
  tollgate history show req_0193a4c2e1d47c3a9f1e2d3c4b5a6978
  tollgate history search flaky relay test --model claude-sonnet-4-5
  tollgate history export --session cc:5f0c2a8e-... --format markdown --output session.md
  tollgate history export --since 2026-11-01 --until 2026-11-08 --format jsonl > week.jsonl
  tollgate history purge --older-than 30d";

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Exchanges, newest first, as a table or JSON lines (or sessions, with --sessions).
    List {
        #[command(flatten)]
        filter: HistoryFilter,
        /// At most this many rows (default 50, at most 1000).
        #[arg(long)]
        limit: Option<u32>,
        /// List sessions instead: their time, client, totals and title (--since, --until and
        /// --key apply).
        #[arg(long)]
        sessions: bool,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One exchange, by exchange id or request id, or a whole session by its id.
    Show {
        /// An exchange id, a request id (`x-request-id`) or a session id.
        id: String,
        /// The full record as JSON, bodies included.
        #[arg(long)]
        json: bool,
    },
    /// Full-text search over what users asked and models answered; every word must match.
    Search {
        /// The words to find.
        #[arg(required = true)]
        words: Vec<String>,
        #[command(flatten)]
        filter: HistoryFilter,
        /// At most this many hits (default 50, at most 1000).
        #[arg(long)]
        limit: Option<u32>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Write a session, or every exchange in a time range, as a Markdown transcript, one JSON
    /// document, or JSON lines.
    Export {
        #[command(flatten)]
        filter: HistoryFilter,
        /// markdown, json or jsonl.
        #[arg(long, short, default_value = "markdown", value_parser = parse_format)]
        format: Format,
        /// Write here instead of to stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Drop request and response bodies older than a duration, keeping metadata, usage and
    /// cost (what `[history] retention` does hourly).
    Purge {
        /// e.g. `30d`, `12h`.
        #[arg(long, value_name = "DURATION")]
        older_than: String,
    },
}

/// Which exchanges. Every option narrows.
#[derive(Debug, Clone, Default, Args)]
pub struct HistoryFilter {
    /// Started at or after this time.
    #[arg(long, value_name = "DATE|DURATION")]
    pub since: Option<String>,
    /// Started before this time.
    #[arg(long, value_name = "DATE|DURATION")]
    pub until: Option<String>,
    /// In this session.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Asked for or served by this model.
    #[arg(long)]
    pub model: Option<String>,
    /// Sent to this provider.
    #[arg(long)]
    pub provider: Option<String>,
    /// Made with this gateway key (by name; `master` for the master key).
    #[arg(long, value_name = "NAME")]
    pub key: Option<String>,
    /// Answered with this HTTP status.
    #[arg(long)]
    pub status: Option<u16>,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}
