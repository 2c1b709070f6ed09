//! Opening a web address in the person's browser: `$BROWSER` first (a program given the
//! address), then the OS's own opener: `xdg-open` (Linux and other Unixes), `open` (macOS),
//! the shell's `open` verb on Windows (`ShellExecuteW`, which starts the default browser
//! without a console and without `cmd`, whose `start` would split the address at each `&`).

/// Try to open `url`; false when nothing could be started.
pub fn open(url: &str) -> bool {
    let from_env = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.is_empty())
        .is_some_and(|b| spawn(&b, url));
    from_env || os_opener(url)
}

fn spawn(program: &str, url: &str) -> bool {
    std::process::Command::new(program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

#[cfg(not(windows))]
fn os_opener(url: &str) -> bool {
    ["xdg-open", "open"].iter().any(|p| spawn(p, url))
}

#[cfg(windows)]
fn os_opener(url: &str) -> bool {
    // The shell opens any path too (and runs a program): hand it web addresses only.
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return false;
    }
    use windows_sys::Win32::UI::Shell::ShellExecuteW;
    use windows_sys::Win32::UI::WindowsAndMessaging::SW_SHOWNORMAL;
    let wide = |s: &str| -> Vec<u16> { s.encode_utf16().chain([0]).collect() };
    let (verb, file) = (wide("open"), wide(url));
    // SAFETY: both strings are NUL-terminated UTF-16 that live across the call; the other
    // pointers may be null (no window, no parameters, no folder).
    let result = unsafe {
        ShellExecuteW(
            std::ptr::null_mut(),
            verb.as_ptr(),
            file.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            SW_SHOWNORMAL,
        )
    };
    // "If the function succeeds, it returns a value greater than 32."
    result as isize > 32
}
