//! Logging set-up: logfmt (`ts=… level=… msg="…" key=value`) or JSON lines on stderr.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the global subscriber; `level` filters this crate's events (others log warnings).
pub fn init(level: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_new(format!("warn,sipfed_exporter={level}"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    if json {
        builder.json().init();
    } else {
        builder.event_format(Logfmt).init();
    }
}

/// One logfmt line per event.
struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let now = time::OffsetDateTime::now_utc();
        write!(
            w,
            "ts={:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z level={}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second(),
            now.millisecond(),
            event.metadata().level().as_str().to_ascii_lowercase()
        )?;
        let mut v = Fields { out: String::new() };
        event.record(&mut v);
        writeln!(w, "{}", v.out)
    }
}

struct Fields {
    out: String,
}

impl Fields {
    fn push(&mut self, key: &str, value: &str) {
        let key = if key == "message" { "msg" } else { key };
        let quote = value.is_empty() || value.contains([' ', '"', '=', '\n']);
        if quote {
            let escaped = value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            self.out.push_str(&format!(" {key}=\"{escaped}\""));
        } else {
            self.out.push_str(&format!(" {key}={value}"));
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field.name(), &format!("{value:?}"));
    }
}
