//! Whatever a peer answers to OPTIONS, the exchange ends with a SipFacts (no panic, bounded
//! memory): the response bytes come from the fuzzer over an in-memory stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipfed_exporter::gather::sip;
use tokio::io::AsyncWriteExt;

fuzz_target!(|data: &[u8]| {
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
