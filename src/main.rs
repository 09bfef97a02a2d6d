//! The `storybook-studio` binary: everything lives in the library; this only hands over.

fn main() -> std::process::ExitCode {
    storybook_studio::cli::main()
}
