//! Property test of the parsers of user input (app.json, Procfile, Boxfile, ENV files, docker
//! options): whatever the bytes, they return a value or an error, never panic, and an error is
//! one line. Inputs are mutations of valid files (byte flips, insertions of syntax characters,
//! cuts, splices), from a fixed seed so a failure reproduces. `FUZZ_CASES` sets how many run.

use deploy_tasks::docker_options;
use deploy_tasks::env_file;
use deploy_tasks::phase::Phase;
use deploy_tasks::sources::{app_json, boxfile, procfile};

const SEEDS: [&str; 8] = [
    r#"{"name": "shop", "scripts": {"dokku": {"predeploy": "rake assets", "postdeploy": "true"}, "postdeploy": "seed"}}"#,
    "web: bundle exec puma\r\nrelease: rake db:migrate\n# comment\n\nworker: sidekiq\n",
    "export A='one'\nexport B='it'\\''s\nmulti'\nC=\"d\\\"q\"\nD=plain value\n",
    "--link db:db\n-v /var/data:/data\n--network=mynet\n-e KEY=value\n-p 80:80\n",
    "\u{feff}{\"scripts\": {\"dokku\": {\"predeploy\": 5}}}",
    "-it --rm --name x --memory=1g -e 'A=b c' --label a=b --cpus 2",
    "build:\n  type: php\n  exec:\n    - \"composer install\"\n  build_hook_timeout: 600\nweb1: &web\n  before_deploy:\n    - php artisan migrate\n  after_deploy_all: [a, 'b c']\n  deploy_hook_timeout: 300\nworker1: *web\n",
    "# hooks\nweb2:\n  after_deploy:\n    - |\n      set -e\n      make\n    - >-\n      x\n  <<: {a: [*w, &w b]}\n---\n? [k]\n: !!str 5\n",
];

const SYNTAX: &[u8] = b"{}[]\":,'\\\n\r\t #/*=-$`\0\xff\xfe\xef\xbb\xbf&!|>?%";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: enough spread for picking mutations; no dependency needed.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(input.len() + 1);
        match rng.below(5) {
            0 if !input.is_empty() => {
                let at = at.min(input.len() - 1);
                input[at] ^= 1 << rng.below(8);
            }
            1 => input.insert(at, SYNTAX[rng.below(SYNTAX.len())]),
            2 => input.truncate(at),
            3 => {
                let other = SEEDS[rng.below(SEEDS.len())].as_bytes();
                let from = rng.below(other.len());
                let to = (from + rng.below(40)).min(other.len());
                input.splice(at..at, other[from..to].iter().copied());
            }
            _ if at < input.len() => {
                input.remove(at);
            }
            _ => {}
        }
    }
}

fn check_one_line(result: Result<(), String>, input: &[u8]) {
    if let Err(message) = result {
        assert!(
            !message.contains('\n'),
            "multi-line error {message:?} for {input:?}"
        );
        assert!(!message.is_empty(), "empty error for {input:?}");
    }
}

#[test]
fn parsers_never_panic_and_errors_are_one_line() {
    let cases: usize = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(20_000);
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for _ in 0..cases {
        let mut input = SEEDS[rng.below(SEEDS.len())].as_bytes().to_vec();
        mutate(&mut rng, &mut input);
        check_one_line(
            app_json::parse(&input, "app.json")
                .map(|_| ())
                .map_err(|e| e.to_string()),
            &input,
        );
        check_one_line(
            procfile::parse(&input, "Procfile")
                .map(|_| ())
                .map_err(|e| e.to_string()),
            &input,
        );
        check_one_line(
            boxfile::parse(&input, "Boxfile")
                .map(|_| ())
                .map_err(|e| e.to_string()),
            &input,
        );
        let text = String::from_utf8_lossy(&input);
        check_one_line(
            env_file::parse(&text, "ENV")
                .map(|_| ())
                .map_err(|e| e.to_string()),
            &input,
        );
        for options in [
            docker_options::parse_lines(&text, "_default_.deploy"),
            docker_options::parse_args(&text, "DOKKU_GLOBAL_RUN_ARGS"),
        ] {
            match options {
                Ok(options) => {
                    for phase in Phase::ALL {
                        docker_options::filter(&options, phase);
                    }
                }
                Err(error) => check_one_line(Err(error.to_string()), &input),
            }
        }
    }
}
