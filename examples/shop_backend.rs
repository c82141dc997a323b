//! A shop backend that sends order confirmations through lettre and
//! records each one in the embedded archive before it leaves.
//!
//! Start an SMTP server on loopback first, for example Postfix's sink:
//!
//! ```text
//! smtp-sink 127.0.0.1:2525 100 &        # as root: smtp-sink -u postfix ...
//! cargo run -p sentmail-examples --example shop_backend -- --orders 20
//! cargo run -p sentmail --release -- search order:ORD-2026-0000007
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use sentmail::EmbeddedArchive;
use sentmail_examples::shop::{Order, Retry, Shop, relay};

/// Sends order confirmations and archives them.
#[derive(Debug, Parser)]
struct Args {
    /// Data directory of the archive.
    #[arg(long, default_value = "./sentmail-data")]
    data: PathBuf,
    /// The SMTP relay, on loopback or a trusted network (no TLS).
    #[arg(long, default_value = "127.0.0.1:2525")]
    relay: SocketAddr,
    /// Number of orders to confirm.
    #[arg(long, default_value_t = 10)]
    orders: u32,
    /// Number of the first order.
    #[arg(long, default_value_t = 1)]
    first: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();

    let archive = EmbeddedArchive::open(&args.data).await?;
    let shop = Shop::new(&archive, relay(args.relay));
    let retry = Retry {
        attempts: 5,
        delay: Duration::from_millis(500),
    };
    let mut failed = 0;
    for n in args.first..args.first + args.orders {
        let order = Order::sample(n);
        match shop.confirm_with_retries(&order, retry).await {
            Ok(receipt) => println!("{}  {}", order.id, receipt.id),
            Err(error) => {
                failed += 1;
                eprintln!("{}: {error}", order.id);
            }
        }
    }
    archive.close().await?;
    if failed > 0 {
        anyhow::bail!("{failed} of {} confirmations were not sent", args.orders);
    }
    Ok(())
}
