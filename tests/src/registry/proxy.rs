//! A TCP proxy in front of a registry that breaks, kills or refuses on cue.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A TCP proxy to a loopback port that calls `on_threshold` once after `threshold` bytes
/// went from the server to clients (the test kills the registry there).
pub struct Proxy {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// A proxy whose first `failures` connections get `503 Service Unavailable`.
    pub fn flaky(backend: u16, failures: usize) -> Proxy {
        let left = Arc::new(AtomicUsize::new(failures));
        Proxy::with_gate(
            backend,
            u64::MAX,
            || {},
            move |mut client: &TcpStream| {
                if left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_err()
                {
                    return true;
                }
                let mut buf = [0u8; 4096];
                let _ = client.read(&mut buf);
                let _ = client.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
                false
            },
        )
    }

    pub fn start(
        backend: u16,
        threshold: u64,
        on_threshold: impl Fn() + Send + Sync + 'static,
    ) -> Proxy {
        Proxy::with_gate(backend, threshold, on_threshold, |_: &TcpStream| true)
    }

    /// The general proxy: `gate` sees each new client connection first and says whether
    /// to forward it (else it is closed).
    fn with_gate(
        backend: u16,
        threshold: u64,
        on_threshold: impl Fn() + Send + Sync + 'static,
        gate: impl Fn(&TcpStream) -> bool + Send + 'static,
    ) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let sent = Arc::new(AtomicU64::new(0));
        let fired = Arc::new(Mutex::new(false));
        let hook: Arc<dyn Fn() + Send + Sync> = Arc::new(on_threshold);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = conn else { continue };
                if !gate(&client) {
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", backend)) else {
                    continue;
                };
                let (mut c_read, mut s_write) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_read, &mut s_write);
                    let _ = s_write.shutdown(std::net::Shutdown::Write);
                });
                let (sent, fired, hook) = (sent.clone(), fired.clone(), hook.clone());
                std::thread::spawn(move || {
                    let (mut server, mut client) = (server, client);
                    let mut buf = vec![0u8; 64 << 10];
                    loop {
                        let n = match server.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if client.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        let total = sent.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
                        if total >= threshold {
                            let mut f = fired.lock().unwrap_or_else(|p| p.into_inner());
                            if !*f {
                                *f = true;
                                hook();
                                break;
                            }
                        }
                    }
                    let _ = client.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Proxy { port, stop }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}
