fn main() {
    let config = doctor::cli::parse();
    std::process::exit(doctor::run(config) as i32);
}
