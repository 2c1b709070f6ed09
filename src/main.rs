fn main() -> std::process::ExitCode {
    cdxs::cli::main()
}
