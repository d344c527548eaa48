fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "rsvc".into());
    println!(
        "{}",
        tinyjson::object(&[("name", &name), ("version", env!("CARGO_PKG_VERSION"))])
    );
}
