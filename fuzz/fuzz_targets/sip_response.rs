//! Whatever a peer answers to OPTIONS, the codec frames and parses it without panicking and
//! within bounded memory (driven directly, fed in the fuzzer's own pieces), and the exchange
//! over an in-memory stream ends with a SipFacts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipfed_exporter::gather::sip::{self, message};
use tokio::io::AsyncWriteExt;

fuzz_target!(|data: &[u8]| {
    // The codec alone: the bytes arrive in pieces of a length the first byte picks, as reads
    // from a socket would cut them.
    let piece = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut buf = Vec::new();
    'feed: for chunk in data.chunks(piece) {
        buf.extend_from_slice(chunk);
        loop {
            match message::next_response(&mut buf) {
                Ok(Some((code, headers))) => {
                    assert!((100..700).contains(&code));
                    assert!(headers.status_line.chars().count() <= 128);
                }
                Ok(None) => break,
                Err(message::NotSip) => break 'feed,
            }
        }
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (client, mut peer) = tokio::io::duplex(64 * 1024);
        let answer = async move {
            let _ = peer.write_all(data).await;
            // Dropping the peer ends the stream: the prober sees EOF after the bytes.
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        let (facts, ()) = tokio::join!(
            sip::options(client, "fuzz.example", deadline),
            answer
        );
        let _ = facts.status;
    });
});
