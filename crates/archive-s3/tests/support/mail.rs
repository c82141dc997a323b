//! Synthetic shop mail for the archive tests.

/// Returns message `n`: a small order confirmation dated on one of three
/// days (4 to 6 December 2026), so messages fall into three partitions.
pub fn message(n: usize) -> Vec<u8> {
    let day = 4 + n % 3;
    format!(
        "From: shop@example.jp\r\nTo: customer{n}@example.com\r\n\
         Subject: Order {n} confirmed\r\n\
         Date: Fri, {day:02} Dec 2026 10:{:02}:{:02} +0900\r\n\
         Message-ID: <order-{n}@shop.example.jp>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         Thank you for order {n}. We will ship {} items soon.\r\n",
        n / 60 % 60,
        n % 60,
        n % 7 + 1
    )
    .into_bytes()
}
