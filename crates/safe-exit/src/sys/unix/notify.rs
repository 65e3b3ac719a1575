//! systemd's notification protocol: one datagram of `KEY=VALUE` lines to the `AF_UNIX`
//! socket named by `$NOTIFY_SOCKET` (a path, or `@name` for Linux's abstract namespace).
//! The socket is non-blocking: a full queue is an error, never a wait, since this is called
//! on the way out of the process.

use std::io;
use std::os::unix::net::UnixDatagram;

/// Sends `state` (`READY=1`, `STOPPING=1\nEXTEND_TIMEOUT_USEC=...`) to `$NOTIFY_SOCKET`.
/// `Ok(false)` when the variable is unset or empty (not run by systemd as a notify service);
/// an error when it names no socket this process can reach.
pub(crate) fn notify(state: &str) -> io::Result<bool> {
    let Some(address) = std::env::var_os("NOTIFY_SOCKET").filter(|a| !a.is_empty()) else {
        return Ok(false);
    };
    let socket = UnixDatagram::unbound()?;
    socket.set_nonblocking(true)?;
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(address.as_os_str());
    let sent = match bytes.first() {
        Some(b'/') => socket.send_to(state.as_bytes(), &address)?,
        Some(b'@') => send_abstract(&socket, &bytes[1..], state)?,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "NOTIFY_SOCKET={} is neither a path nor an @abstract name",
                    address.to_string_lossy()
                ),
            ))
        }
    };
    if sent != state.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "the notification was cut short",
        ));
    }
    Ok(true)
}

/// Sends to the abstract socket `name` (Linux).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_abstract(socket: &UnixDatagram, name: &[u8], state: &str) -> io::Result<usize> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    socket.send_to_addr(state.as_bytes(), &address)
}

/// Abstract sockets are Linux's alone.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send_abstract(_socket: &UnixDatagram, _name: &[u8], _state: &str) -> io::Result<usize> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "NOTIFY_SOCKET names an abstract socket, which only Linux has",
    ))
}
