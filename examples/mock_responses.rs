//! Run the offline Responses mock by hand (for exploring Codex without a network):
//!   cargo run --example mock_responses      # prints the config.toml to use, then serves
#[path = "../tests/support/mock_responses.rs"]
mod mock_responses;

fn main() {
    let mock = mock_responses::MockResponses::start("hello from the cdxs mock");
    println!("{}", mock.config_toml());
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
