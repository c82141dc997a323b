//! Progress bars on standard error, hidden when it is not a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over `total` bytes with a free-text message. `visible` false hides
/// it, for example when the output is JSON.
pub fn bytes_bar(total: u64, visible: bool) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec})\n{msg}",
    )
    .expect("valid progress template")
    .progress_chars("=> ");
    bar.set_style(style);
    if !visible {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}

/// A bar over `total` items.
pub fn items_bar(total: u64, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let template =
        format!("{{elapsed_precise}} [{{wide_bar}}] {{pos}}/{{len}} {label} ({{per_sec}})");
    let style = ProgressStyle::with_template(&template)
        .expect("valid progress template")
        .progress_chars("=> ");
    bar.set_style(style);
    bar
}
