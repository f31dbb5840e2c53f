//! Argument values with units and addresses, shared by the subcommands.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// `5s`, `250ms`, `1.5m`, `1h30m`, or a bare number of seconds (`3`, `0.5`).
pub fn duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let bad =
        || format!("bad duration {s:?} (e.g. 5s, 250ms, 1.5m, 1h30m; a bare number is seconds)");
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let d = if let Ok(n) = number.parse::<f64>() {
        let scale = match unit.trim() {
            "" | "s" | "sec" | "secs" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            "m" | "min" | "mins" => 60.0,
            "h" => 3600.0,
            _ => {
                return humantime::parse_duration(t).map_err(|_| bad());
            }
        };
        Duration::try_from_secs_f64(n * scale).map_err(|_| bad())?
    } else {
        humantime::parse_duration(t).map_err(|_| bad())?
    };
    Ok(d)
}

/// A duration that must not be zero.
pub fn nonzero_duration(s: &str) -> Result<Duration, String> {
    let d = duration(s)?;
    if d.is_zero() {
        return Err(format!("{s:?}: must be more than zero"));
    }
    Ok(d)
}

/// `64`, `1k` / `1K` / `1KiB` (1024), `1kB` / `1KB` (1000), `16M` / `16MiB`,
/// `1MB`, `2G` / `2GiB`, `1GB`; an optional trailing `B` is allowed.
pub fn size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let bad = || format!("bad size {s:?} (e.g. 64, 1k, 16MiB, 1MB; k/K/KiB = 1024, kB/KB = 1000)");
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().map_err(|_| bad())?;
    let scale: f64 = match unit.trim() {
        "" | "B" | "b" => 1.0,
        "k" | "K" | "KiB" | "kiB" | "Ki" => 1024.0,
        "kB" | "KB" => 1e3,
        "M" | "MiB" | "Mi" | "m" => 1024.0 * 1024.0,
        "MB" => 1e6,
        "G" | "GiB" | "Gi" | "g" => 1024.0 * 1024.0 * 1024.0,
        "GB" => 1e9,
        _ => return Err(bad()),
    };
    let v = n * scale;
    if !(0.0..1.8e19).contains(&v) || v.fract() != 0.0 {
        return Err(bad());
    }
    Ok(v as u64)
}

/// `n` bytes as [`size`] reads it back, in the largest binary unit that
/// divides it (`16MiB`, `1KiB`, `1000`).
pub fn size_text(n: u64) -> String {
    for (unit, scale) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= scale && n.is_multiple_of(scale) {
            return format!("{}{unit}", n / scale);
        }
    }
    n.to_string()
}

/// A size that fits `usize`.
pub fn size_usize(s: &str) -> Result<usize, String> {
    size(s).and_then(|n| usize::try_from(n).map_err(|_| format!("{s:?} is too large")))
}

/// A percentage: `5`, `5%`, `0.5`.
pub fn percent(s: &str) -> Result<f64, String> {
    let n: f64 = s
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("bad percentage {s:?} (e.g. 5 or 5%)"))?;
    if !(0.0..=100.0).contains(&n) {
        return Err(format!("{s:?}: a percentage is between 0 and 100"));
    }
    Ok(n)
}

/// Adds what a user leaves out: `:9000` means `localhost:9000`. Fails
/// with a hint when there is no port.
fn normalize(addr: &str) -> Result<String> {
    let a = addr.trim();
    if a.is_empty() {
        bail!("empty address: write HOST:PORT (e.g. localhost:9000)");
    }
    if let Some(port) = a.strip_prefix(':')
        && !port.is_empty()
        && port.chars().all(|c| c.is_ascii_digit())
    {
        return Ok(format!("localhost:{port}"));
    }
    let has_port = match a.rsplit_once(':') {
        Some((host, port)) => {
            !port.is_empty()
                && port.chars().all(|c| c.is_ascii_digit())
                && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    };
    if !has_port {
        bail!(
            "{a:?} has no port: write HOST:PORT (e.g. localhost:9000, 127.0.0.1:9000, [::1]:9000)"
        );
    }
    Ok(a.to_string())
}

/// Every address `addr` (HOST:PORT, `:PORT`) resolves to, in order.
pub fn resolve_all(addr: &str) -> Result<Vec<SocketAddr>> {
    let a = normalize(addr)?;
    let addrs: Vec<SocketAddr> = a
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {a}"))?
        .collect();
    if addrs.is_empty() {
        bail!("{a} resolves to no address");
    }
    Ok(addrs)
}

/// The address to listen on for `addr`: an IPv4 one when a name such as
/// `localhost` resolves to both families (clients try them all; a server
/// binds one, and 127.0.0.1 is what most clients reach first).
pub fn listen_addr(addr: &str) -> Result<SocketAddr> {
    let all = resolve_all(addr)?;
    Ok(all
        .iter()
        .copied()
        .find(SocketAddr::is_ipv4)
        .unwrap_or(all[0]))
}

/// [`listen_addr`] of an optional address (`--udp`, `--metrics`).
pub fn listen_addr_opt(addr: Option<&str>) -> Result<Option<SocketAddr>> {
    addr.map(listen_addr).transpose()
}

/// The address, normalized, for clients that resolve it themselves.
pub fn client_addr(addr: &str) -> Result<String> {
    let a = normalize(addr)?;
    // Resolve now, so a DNS failure says so rather than "cannot connect".
    resolve_all(&a)?;
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(duration("3").unwrap(), Duration::from_secs(3));
        assert_eq!(duration("0.5").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(duration("1.5m").unwrap(), Duration::from_secs(90));
        assert_eq!(duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert!(duration("fast").is_err());
        assert_eq!(size("64").unwrap(), 64);
        assert_eq!(size("1k").unwrap(), 1024);
        assert_eq!(size("1kB").unwrap(), 1000);
        assert_eq!(size("16MiB").unwrap(), 16 << 20);
        assert_eq!(size("1.5k").unwrap(), 1536);
        assert!(size("1.3").is_err());
        assert!(size("-1").is_err());
        assert_eq!(percent("5%").unwrap(), 5.0);
        for n in [0, 1000, 1024, 16 << 20, 256 << 20, 3 << 30, (1 << 20) + 1] {
            assert_eq!(size(&size_text(n)).unwrap(), n, "{}", size_text(n));
        }
        assert_eq!(size_text(16 << 20), "16MiB");
        assert!(percent("101").is_err());
    }

    #[test]
    fn addresses() {
        assert_eq!(normalize(":9000").unwrap(), "localhost:9000");
        assert_eq!(normalize("[::1]:9").unwrap(), "[::1]:9");
        assert!(normalize("127.0.0.1").is_err());
        assert!(normalize("::1").is_err());
        assert!(listen_addr("localhost:0").is_ok());
    }
}
