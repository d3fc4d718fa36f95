//! A minimal authoritative DNS responder on 127.0.0.1 (UDP) for end-to-end
//! tests: TXT questions are answered from a table the test changes while
//! it runs (it "publishes" a record), every other question gets NXDOMAIN.
//! `enlist serve --dns-server` points at it.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};

/// The responder: its address, and the TXT records it serves.
pub struct TestDns {
    /// Where it listens.
    pub addr: SocketAddr,
    records: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl TestDns {
    /// Starts it on a free port; it answers at most 1,000 questions.
    pub fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let records: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
        let table = records.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            for _ in 0..1000 {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else { return };
                if let Some(answer) = answer(&buf[..n], &table.lock().unwrap()) {
                    let _ = socket.send_to(&answer, peer);
                }
            }
        });
        Self { addr, records }
    }

    /// Publishes a TXT record (one string) at `name`.
    pub fn publish(&self, name: &str, value: &str) {
        self.records
            .lock()
            .unwrap()
            .entry(name.trim_end_matches('.').to_ascii_lowercase())
            .or_default()
            .push(value.into());
    }
}

/// The answer to one query: TXT records from `table` for a TXT question
/// about a name in it, else NXDOMAIN (no records). `None` for a packet
/// too short to be a question.
fn answer(q: &[u8], table: &HashMap<String, Vec<String>>) -> Option<Vec<u8>> {
    let (mut i, mut labels) = (12usize, Vec::new());
    while *q.get(i)? != 0 {
        let len = usize::from(*q.get(i)?);
        labels.push(String::from_utf8_lossy(q.get(i + 1..i + 1 + len)?).to_ascii_lowercase());
        i += 1 + len;
    }
    let end = i + 5; // the zero label, type, class
    let qtype = u16::from_be_bytes([*q.get(i + 1)?, *q.get(i + 2)?]);
    let records = table.get(&labels.join(".")).filter(|_| qtype == 16);
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(q.get(..2)?); // id
    out.extend_from_slice(if records.is_some() { &[0x84, 0x00] } else { &[0x84, 0x03] }); // QR AA, NOERROR / NXDOMAIN
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(&(records.map_or(0, Vec::len) as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(q.get(12..end)?);
    for value in records.into_iter().flatten() {
        let bytes = value.as_bytes();
        let take = bytes.len().min(255);
        out.extend_from_slice(&[0xC0, 0x0C, 0, 16, 0, 1, 0, 0, 0, 60]);
        out.extend_from_slice(&((take + 1) as u16).to_be_bytes());
        out.push(take as u8);
        out.extend_from_slice(bytes.get(..take)?);
    }
    Some(out)
}
