//! The hickory adapter against a real DNS exchange: a minimal authoritative
//! responder on 127.0.0.1 (UDP) answering TXT questions from a table, NXDOMAIN
//! otherwise; and a server that never answers, which must give an error in
//! bounded time rather than hang a request.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enlist_core::ports::DomainVerifier;
use enlist_dns::HickoryVerifier;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// The question's name (lower-case, dotted) and the offset after the question.
fn question(packet: &[u8]) -> (String, usize) {
    let (mut i, mut labels) = (12, Vec::new());
    while packet[i] != 0 {
        let len = packet[i] as usize;
        labels.push(String::from_utf8_lossy(&packet[i + 1..i + 1 + len]).to_ascii_lowercase());
        i += 1 + len;
    }
    (labels.join("."), i + 1 + 4)
}

/// Answers each query from `table` (name → records, each a list of strings).
async fn responder(table: Vec<(&'static str, Vec<Vec<&'static str>>)>) -> std::net::SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        // Bounded: a test asks a handful of questions.
        for _ in 0..64 {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else { return };
            let q = &buf[..n];
            let (name, end) = question(q);
            let records = table.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
            let mut out = Vec::new();
            out.extend_from_slice(&q[..2]); // id
            out.extend_from_slice(if records.is_some() { &[0x84, 0x00] } else { &[0x84, 0x03] }); // QR AA, NOERROR/NXDOMAIN
            out.extend_from_slice(&[0, 1]);
            out.extend_from_slice(&(records.as_ref().map_or(0, Vec::len) as u16).to_be_bytes());
            out.extend_from_slice(&[0, 0, 0, 0]);
            out.extend_from_slice(&q[12..end]);
            for record in records.unwrap_or_default() {
                let rdata: Vec<u8> =
                    record.iter().flat_map(|s| std::iter::once(s.len() as u8).chain(s.bytes())).collect();
                out.extend_from_slice(&[0xC0, 0x0C, 0, 16, 0, 1, 0, 0, 0, 60]);
                out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
                out.extend_from_slice(&rdata);
            }
            let _ = socket.send_to(&out, peer).await;
        }
    });
    addr
}

#[tokio::test]
async fn published_records_are_read_and_absent_names_are_empty() {
    let addr = responder(vec![(
        "_enlist-challenge.contoso.com",
        vec![vec!["enlist-domain-verification=abc"], vec!["v=spf1 ", "-all"]],
    )])
    .await;
    let dns = HickoryVerifier::with_name_server(addr, Duration::from_secs(2));
    let mut got = dns.txt("_enlist-challenge.contoso.com").await.unwrap();
    got.sort();
    assert_eq!(got, ["enlist-domain-verification=abc", "v=spf1 -all"], "a record's strings are joined");
    assert_eq!(dns.txt("_enlist-challenge.Contoso.COM.").await.unwrap().len(), 2, "names are case-insensitive");
    assert!(dns.txt("_enlist-challenge.fabrikam.com").await.unwrap().is_empty(), "NXDOMAIN: nothing published");
}

#[tokio::test]
async fn a_silent_server_is_an_error_in_bounded_time() {
    // Bound but never read: every question goes unanswered.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dns = HickoryVerifier::with_name_server(silent.local_addr().unwrap(), Duration::from_millis(300));
    let started = Instant::now();
    let err = dns.txt("_enlist-challenge.contoso.com").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(err.to_string().contains("try again later"), "{err}");
}
