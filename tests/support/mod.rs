pub mod dns;
pub mod fake_apiserver;
