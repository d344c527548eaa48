//! Dockerfiles: parsing, instruction flags and the word rules never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use strata_builder::{instruction::Instruction, parser, words};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(dockerfile) = parser::parse(text, "Dockerfile") else {
        return;
    };
    let vars: words::Vars = [("A".to_string(), "x y".to_string())].into_iter().collect();
    for raw in &dockerfile.instructions {
        if let Ok(ins) = Instruction::from_raw(raw, "Dockerfile") {
            let _ = words::split(&ins.args, dockerfile.escape, &vars);
            let _ = words::expand(&ins.args, dockerfile.escape, &vars);
        }
    }
});
