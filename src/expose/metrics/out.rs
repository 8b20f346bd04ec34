//! Where the page goes: text handed to a sink in chunks of [`CHUNK`] bytes as it fills.

use std::ops::{Deref, DerefMut};

/// Size of the chunks the page is handed out in.
pub const CHUNK: usize = 256 * 1024;

/// Where rendered text goes: a `String` that, given a sink, hands its text to the sink once it
/// holds [`CHUNK`] bytes (at [`Out::flush_if_full`], between samples). A sink returning
/// `false` (the client went away) stops further output.
pub struct Out<'a> {
    pub(super) buf: String,
    pub(super) sink: Option<&'a mut dyn FnMut(Vec<u8>) -> bool>,
    closed: bool,
}

impl<'a> Out<'a> {
    /// Output handed to `sink` in chunks.
    pub fn chunked(sink: &'a mut dyn FnMut(Vec<u8>) -> bool) -> Out<'a> {
        Out {
            buf: String::with_capacity(CHUNK + 4096),
            sink: Some(sink),
            closed: false,
        }
    }

    /// Output kept whole in `buf` (appended to).
    pub(super) fn whole(buf: String) -> Out<'a> {
        Out {
            buf,
            sink: None,
            closed: false,
        }
    }

    /// Hands the text to the sink when it holds a chunk's worth.
    pub fn flush_if_full(&mut self) {
        if self.buf.len() >= CHUNK {
            self.flush();
        }
    }

    /// Hands whatever text there is to the sink.
    pub fn flush(&mut self) {
        let Some(sink) = &mut self.sink else { return };
        if self.buf.is_empty() {
            return;
        }
        let text = std::mem::replace(&mut self.buf, String::with_capacity(CHUNK + 4096));
        if !self.closed && !sink(text.into_bytes()) {
            self.closed = true;
        }
    }

    /// Whether the sink refused more (rendering may stop).
    pub fn closed(&self) -> bool {
        self.closed
    }
}

impl Deref for Out<'_> {
    type Target = String;
    fn deref(&self) -> &String {
        &self.buf
    }
}

impl DerefMut for Out<'_> {
    fn deref_mut(&mut self) -> &mut String {
        if self.closed {
            // Nobody reads it any more: keep the buffer from growing.
            self.buf.clear();
        }
        &mut self.buf
    }
}
