//! The docker options an app deploys with, and which of them a task container may use.
//!
//! Dokku keeps options in files with one option per line (`docker-options:add`) and in
//! `DOKKU_GLOBAL_RUN_ARGS`, all options on one line. A task container is a one-off container, so
//! options that only make sense for a long-running process are dropped, as Dokku does for
//! `dokku run`; for predeploy, whose container is committed into the image, options that
//! `docker commit` would bake into the image are dropped too, with a warning.

use crate::input_error::InputError;
use crate::phase::Phase;

/// One docker option: the flag, then the values that follow it as separate words, e.g.
/// `["-v", "/a:/b"]`, `["--network=x"]`, `["-it"]`.
pub type DockerOption = Vec<String>;

/// Parses an option file of Dokku's: one option per line, like `--link db:db`, `-v /var/x:/x` or
/// `--network=mynet`, each line split into words as a shell would.
///
/// Blank lines and lines starting with `#` are skipped, as are CRLF line endings. A line holding
/// several options (`-v /a:/a -v /b:/b`) gives one [`DockerOption`] for each, grouped as
/// [`parse_args`] does, so that [`filter`] sees every flag.
///
/// # Errors
///
/// An [`InputError`] at the 1-based line of a quote that is never closed, or of a line that does
/// not start with a flag.
pub fn parse_lines(text: &str, origin: &str) -> Result<Vec<DockerOption>, InputError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut options = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let words = split(trimmed, origin).map_err(|error| error.at_line(index + 1))?;
        options.extend(group(words, origin).map_err(|error| error.at_line(index + 1))?);
    }
    Ok(options)
}

/// Parses `DOKKU_GLOBAL_RUN_ARGS`-style text: many options on one line, split into words as a
/// shell would, then grouped: a word starting with `-` starts an option, and the words after it
/// that do not start with `-` are its values. A flag that takes no value, followed by another
/// flag, is an option on its own.
///
/// A value that itself starts with `-` (`--cpu-shares -1`) would be read as a flag; write it
/// attached (`--cpu-shares=-1`).
///
/// # Errors
///
/// An [`InputError`] for a quote that is never closed, or a value before the first flag.
pub fn parse_args(text: &str, origin: &str) -> Result<Vec<DockerOption>, InputError> {
    group(split(text, origin)?, origin)
}

fn split(text: &str, origin: &str) -> Result<Vec<String>, InputError> {
    shell_words::split(text).map_err(|_| {
        InputError::new(
            origin,
            "a quote in the docker options is never closed",
            "close the quote, or escape it with a backslash",
        )
    })
}

fn group(words: Vec<String>, origin: &str) -> Result<Vec<DockerOption>, InputError> {
    let mut options: Vec<DockerOption> = Vec::new();
    for word in words {
        if word.starts_with('-') {
            options.push(vec![word]);
        } else if let Some(option) = options.last_mut() {
            option.push(word);
        } else {
            return Err(InputError::new(
                origin,
                format!("`{word}` is not a docker option: options start with -"),
                "put the flag before its value, like `-v /host:/container`",
            ));
        }
    }
    Ok(options)
}

/// The docker options a task container runs with, and why some were left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filtered {
    /// The kept options flattened into `docker container create` arguments, in their order.
    pub args: Vec<String>,
    /// One line for each option dropped because `docker commit` would bake it into the image.
    /// An environment value never appears in it, since it may be a secret.
    pub warnings: Vec<String>,
}

/// Chooses the options a task container of `phase` runs with.
///
/// Always dropped, silently, as Dokku does for one-off containers: `--cpus`, `--gpus`,
/// `--memory*` and `-m`, `--publish`, `-p`, `-P`, `--publish-all`, `--restart`; and, since they
/// would break running the task, `--name`, `-d`/`--detach`, `--rm`, `-t`/`--tty`,
/// `-i`/`--interactive`, `-a`/`--attach`.
///
/// For [`Phase::Predeploy`] only, dropped with a warning each: the options `docker commit` would
/// record in the new image's configuration: `-e`/`--env`, `--env-file`, `-l`/`--label`,
/// `--label-file`, `-u`/`--user`, `-w`/`--workdir`, `--entrypoint`, `--expose`, `--health-*`,
/// `--no-healthcheck`, `--stop-signal`, `--stop-timeout`, `-h`/`--hostname`, `--domainname`,
/// `--mac-address`.
///
/// Every spelling is recognised: `--flag value`, `--flag=value`, `-p 80:80`, `-p80:80`,
/// `-p=80:80`, and combined short flags such as `-it`, which are split so that only the dropped
/// letters go (`-ite X=1` keeps `-e X=1` outside predeploy).
pub fn filter(options: &[DockerOption], phase: Phase) -> Filtered {
    filter_with(options, phase, &|_| false, &|_| false)
}

/// [`filter`] for the options Dokku's plugins give a deploy of `image`, whose environment is
/// `image_env`: an `--env KEY=VALUE` the image has already (builder-herokuish's `USER=`) is
/// dropped from a predeploy silently, as committing it would change nothing.
pub fn filter_for_image(options: &[DockerOption], phase: Phase, image_env: &[String]) -> Filtered {
    filter_with(options, phase, &|_| false, &|option| {
        env_assignment(option)
            .is_some_and(|assignment| image_env.iter().any(|env| env == assignment))
    })
}

/// The `KEY=VALUE` of an `-e`/`--env` option, in any of its spellings.
fn env_assignment(option: &[String]) -> Option<&str> {
    let flag = option.first()?;
    if flag_name(flag) != "env" {
        return None;
    }
    if let Some(value) = option.get(1) {
        return Some(value);
    }
    flag.strip_prefix("--env=")
        .or_else(|| flag.strip_prefix("-e=").or_else(|| flag.strip_prefix("-e")))
        .filter(|value| !value.is_empty())
}

/// [`filter`] for `DOKKU_GLOBAL_RUN_ARGS`, which the `dokku` command itself sets: its labels
/// (`org.label-schema.*`, `dokku`) mark every container and image Dokku makes, the built image
/// already carries them, so a predeploy keeps them without a warning.
pub fn filter_dokku_run_args(options: &[DockerOption], phase: Phase) -> Filtered {
    filter_with(options, phase, &|flag| flag_name(flag) == "label", &|_| {
        false
    })
}

/// [`filter`], but that the options `kept` names are kept in every phase, and that an option
/// `unchanged` says the image has already is dropped from a predeploy without a warning.
fn filter_with(
    options: &[DockerOption],
    phase: Phase,
    kept: &dyn Fn(&str) -> bool,
    unchanged: &dyn Fn(&[String]) -> bool,
) -> Filtered {
    let mut filtered = Filtered::default();
    for option in options.iter().flat_map(split_short_flags) {
        let Some(flag) = option.first() else { continue };
        match classify(flag) {
            Use::Keep => filtered.args.extend(option),
            Use::BakedIntoImage if kept(flag) => filtered.args.extend(option),
            Use::DropForOneOff => {}
            Use::BakedIntoImage if phase == Phase::Predeploy && unchanged(&option) => {}
            Use::BakedIntoImage if phase == Phase::Predeploy => {
                filtered.warnings.push(format!(
                    "docker option `{}` is not used for predeploy: `docker commit` would bake it \
                     into the image",
                    display(&option)
                ));
            }
            Use::BakedIntoImage => filtered.args.extend(option),
        }
    }
    filtered
}

/// `options` without the bare `-e KEY` / `--env=KEY` ones, which take their value from the
/// caller's environment: Dokku's config plugin names every config key so (its
/// `docker-args-deploy`), and the plugin gives the config to tasks itself.
pub fn without_config_keys(options: Vec<DockerOption>) -> Vec<DockerOption> {
    options
        .into_iter()
        .filter(|option| {
            let Some(flag) = option.first() else {
                return false;
            };
            if flag_name(flag) != "env" {
                return true;
            }
            let value = match (flag.split_once('='), option.get(1), flag.starts_with("--")) {
                (Some((_, value)), _, true) => value,
                (_, Some(value), _) => value.as_str(),
                (None, None, false) => flag.get(2..).unwrap_or_default(),
                _ => "",
            };
            value.contains('=')
        })
        .collect()
}

/// What a task container does with an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Keep,
    /// Meaningless or harmful for a one-off container.
    DropForOneOff,
    /// Recorded in the image by `docker commit`.
    BakedIntoImage,
}

/// Classifies an option by its first word, a flag in any spelling (`--env=X`, `-e`, `-eX`).
fn classify(flag: &str) -> Use {
    let name = flag_name(flag);
    let drop_for_one_off = [
        "cpus",
        "gpus",
        "publish",
        "publish-all",
        "restart",
        "name",
        "detach",
        "rm",
        "tty",
        "interactive",
        "attach",
    ];
    // Fields of the container's `Config` that `docker commit` copies into the image.
    let baked_into_image = [
        "env",
        "env-file",
        "label",
        "label-file",
        "user",
        "workdir",
        "entrypoint",
        "expose",
        "no-healthcheck",
        "stop-signal",
        "stop-timeout",
        "hostname",
        "domainname",
        "mac-address",
    ];
    if drop_for_one_off.contains(&name) || name.starts_with("memory") {
        Use::DropForOneOff
    } else if baked_into_image.contains(&name) || name.starts_with("health-") {
        Use::BakedIntoImage
    } else {
        Use::Keep
    }
}

/// A flag's long name, in any spelling (`--env=X`, `-e`, `-eX`); empty for an unknown short one.
fn flag_name(flag: &str) -> &str {
    match flag.strip_prefix("--") {
        Some(long) => long.split('=').next().unwrap_or(long),
        None => flag
            .strip_prefix('-')
            .and_then(|short| short.chars().next())
            .and_then(long_name)
            .unwrap_or(""),
    }
}

/// The long name of a `docker run` short flag.
fn long_name(short: char) -> Option<&'static str> {
    Some(match short {
        'a' => "attach",
        'c' => "cpu-shares",
        'd' => "detach",
        'e' => "env",
        'h' => "hostname",
        'i' => "interactive",
        'l' => "label",
        'm' => "memory",
        'P' => "publish-all",
        'p' => "publish",
        't' => "tty",
        'u' => "user",
        'v' => "volume",
        'w' => "workdir",
        _ => return None,
    })
}

/// Whether a `docker run` short flag takes no value, so that another letter may follow it in a
/// group like `-it`.
fn is_boolean_short_flag(short: char) -> bool {
    matches!(short, 'd' | 'i' | 't' | 'P')
}

/// Splits a group of short flags into one option per flag, so each can be judged alone:
/// `-itp 80:80` becomes `-i`, `-t`, `-p 80:80`, and `-p80:80` stays whole. As in docker's flag
/// parser, the group ends at the first letter that takes a value; the rest of the word is that
/// letter's value.
fn split_short_flags(option: &DockerOption) -> Vec<DockerOption> {
    let Some((flag, values)) = option.split_first() else {
        return Vec::new();
    };
    let Some(letters) = flag.strip_prefix('-').filter(|rest| !rest.starts_with('-')) else {
        return vec![option.clone()];
    };
    let mut options = Vec::new();
    let mut rest = letters;
    loop {
        let mut chars = rest.chars();
        let Some(letter) = chars.next() else { break };
        let after = chars.as_str();
        if is_boolean_short_flag(letter) && !after.is_empty() && !after.starts_with('=') {
            options.push(vec![format!("-{letter}")]);
            rest = after;
        } else {
            break;
        }
    }
    let mut last = vec![format!("-{rest}")];
    last.extend(values.iter().cloned());
    options.push(last);
    options
}

/// An option as the user would write it, with any environment value hidden: `-e FOO=…`.
fn display(option: &[String]) -> String {
    let Some((flag, values)) = option.split_first() else {
        return String::new();
    };
    let is_env = matches!(flag.as_str(), "-e" | "--env")
        || flag.starts_with("--env=")
        || (flag.starts_with("-e") && !flag.starts_with("--"));
    let mut words = Vec::with_capacity(option.len());
    if is_env {
        // The value can be attached (`--env=K=V`, `-eK=V`, `-e=K=V`) or in the next words.
        let attached_start = if let Some(value) = flag.strip_prefix("--env=") {
            flag.len() - value.len()
        } else if flag.starts_with("-e=") {
            3
        } else {
            2.min(flag.len())
        };
        let (flag_part, attached) = flag
            .split_at_checked(attached_start)
            .unwrap_or((flag.as_str(), ""));
        words.push(format!("{flag_part}{}", hide_env_value(attached)));
        words.extend(values.iter().map(|value| hide_env_value(value)));
    } else {
        words.push(flag.clone());
        words.extend(values.iter().cloned());
    }
    words
        .iter()
        .map(|word| {
            if word.is_empty() || word.contains(char::is_whitespace) || word.contains(['\'', '"']) {
                shell_words::quote(word).into_owned()
            } else {
                word.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `KEY=value` becomes `KEY=…`; a bare `KEY` (passed through from the environment) stays.
fn hide_env_value(assignment: &str) -> String {
    match assignment.split_once('=') {
        Some((key, _)) => format!("{key}=…"),
        None => assignment.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(words: &[&str]) -> DockerOption {
        words.iter().map(|word| word.to_string()).collect()
    }

    fn args(text: &str, phase: Phase) -> Vec<String> {
        filter(&parse_args(text, "options").unwrap(), phase).args
    }

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parse_lines_reads_one_option_per_line() {
        let text =
            "--link db:db\n-v /var/x:/x\n\n# comment\n--network=mynet\r\n  --label 'a b=c d'\n";
        assert_eq!(
            parse_lines(text, "DOCKER_OPTIONS_DEPLOY").unwrap(),
            vec![
                option(&["--link", "db:db"]),
                option(&["-v", "/var/x:/x"]),
                option(&["--network=mynet"]),
                option(&["--label", "a b=c d"]),
            ]
        );
        assert_eq!(parse_lines("", "o").unwrap(), Vec::<DockerOption>::new());
    }

    #[test]
    fn parse_lines_splits_a_line_holding_several_options() {
        assert_eq!(
            parse_lines("-v /a:/a -v /b:/b --rm\n", "o").unwrap(),
            vec![
                option(&["-v", "/a:/a"]),
                option(&["-v", "/b:/b"]),
                option(&["--rm"])
            ]
        );
    }

    #[test]
    fn parse_lines_reports_bad_quoting_at_its_line() {
        let error = parse_lines("--link db:db\n-v '/a:/b\n", "DOCKER_OPTIONS_RUN").unwrap_err();
        assert_eq!(error.origin, "DOCKER_OPTIONS_RUN");
        assert_eq!(error.line, Some(2));
        assert!(error.problem.contains("never closed"), "{error}");
    }

    #[test]
    fn parse_lines_reports_a_line_without_flag() {
        let error = parse_lines("-v /a:/b\n/c:/d\n", "o").unwrap_err();
        assert_eq!(error.line, Some(2));
        assert!(error.problem.contains("`/c:/d`"), "{error}");
    }

    #[test]
    fn parse_args_groups_flags_and_values() {
        assert_eq!(
            parse_args(
                "--init -v /a:/b --network=x --add-host 'h:1.2.3.4' -it",
                "o"
            )
            .unwrap(),
            vec![
                option(&["--init"]),
                option(&["-v", "/a:/b"]),
                option(&["--network=x"]),
                option(&["--add-host", "h:1.2.3.4"]),
                option(&["-it"]),
            ]
        );
        assert_eq!(parse_args("  ", "o").unwrap(), Vec::<DockerOption>::new());
    }

    #[test]
    fn parse_args_rejects_a_value_before_any_flag() {
        let error = parse_args("/a:/b -v /c:/d", "DOKKU_GLOBAL_RUN_ARGS").unwrap_err();
        assert_eq!(error.origin, "DOKKU_GLOBAL_RUN_ARGS");
        assert!(error.problem.contains("`/a:/b`"), "{error}");
    }

    #[test]
    fn parse_args_rejects_bad_quoting() {
        assert!(parse_args("-e 'A=b", "o").is_err());
        assert!(parse_args("-e \"A=b", "o").is_err());
    }

    #[test]
    fn keeps_ordinary_options_in_every_phase() {
        let text = "--link db:db -v /a:/b --network=x --add-host h:1.2.3.4 --init -c 512 --ulimit nofile=1024";
        for phase in Phase::ALL {
            let filtered = filter(&parse_args(text, "o").unwrap(), phase);
            assert_eq!(filtered.args, words(text), "{phase}");
            assert!(filtered.warnings.is_empty());
        }
    }

    #[test]
    fn drops_resource_limits_in_every_spelling() {
        let text = "--cpus 2 --cpus=2 --gpus all --gpus=all --memory 512m --memory=512m \
                    -m 512m -m512m -m=512m --memory-swap 1g --memory-reservation=256m \
                    --memory-swappiness 0 --init";
        for phase in Phase::ALL {
            let filtered = filter(&parse_args(text, "o").unwrap(), phase);
            assert_eq!(filtered.args, words("--init"), "{phase}");
            assert!(filtered.warnings.is_empty());
        }
    }

    #[test]
    fn drops_publishing_and_restart_in_every_spelling() {
        let text = "--publish 80:80 --publish=80:80 -p 80:80 -p80:80 -p=80:80 -P --publish-all \
                    --publish-all=true --restart always --restart=on-failure:3 --init";
        assert_eq!(args(text, Phase::Release), words("--init"));
    }

    #[test]
    fn drops_options_that_break_a_task_container() {
        let text =
            "--name web.1 --name=x -d --detach --detach=true --rm -t --tty -i --interactive \
                    -a stdout -astdout --attach=stderr --init";
        for phase in Phase::ALL {
            assert_eq!(args(text, phase), words("--init"), "{phase}");
        }
    }

    #[test]
    fn splits_combined_short_flags() {
        assert_eq!(args("-it", Phase::Release), Vec::<String>::new());
        assert_eq!(args("-itd", Phase::Postdeploy), Vec::<String>::new());
        assert_eq!(args("-ite A=1", Phase::Release), words("-e A=1"));
        assert_eq!(args("-tv /a:/b", Phase::Release), words("-v /a:/b"));
        assert_eq!(args("-itp 80:80", Phase::Release), Vec::<String>::new());
        assert_eq!(args("-itp80:80", Phase::Release), Vec::<String>::new());
        // The value of -v is the rest of the word, even if it holds flag letters.
        assert_eq!(
            args("-v/tmp/it:/it", Phase::Release),
            words("-v/tmp/it:/it")
        );
        assert_eq!(args("-i=true", Phase::Release), Vec::<String>::new());
        let filtered = filter(&parse_args("-ite A=secret", "o").unwrap(), Phase::Predeploy);
        assert!(filtered.args.is_empty());
        assert_eq!(
            filtered.warnings,
            vec![
                "docker option `-e A=…` is not used for predeploy: `docker commit` would bake it \
                 into the image"
                    .to_string()
            ]
        );
    }

    #[test]
    fn keeps_image_config_options_outside_predeploy() {
        let text = "-e A=1 --env=B=2 -l x=y -u 1000 -w /app --entrypoint /bin/sh --expose 80 \
                    --health-cmd true --stop-signal SIGINT -h box --domainname example.com \
                    --mac-address 02:42:ac:11:00:02";
        for phase in [Phase::Release, Phase::Postdeploy] {
            let filtered = filter(&parse_args(text, "o").unwrap(), phase);
            assert_eq!(filtered.args, words(text), "{phase}");
            assert!(filtered.warnings.is_empty());
        }
    }

    #[test]
    fn drops_image_config_options_for_predeploy_with_a_warning_each() {
        let text = "-e A=1 -eB=2 -e=C=3 --env D=4 --env=E=5 --env-file /x.env --env-file=/y.env \
                    -l a=b -la=b --label a=b --label=a=b --label-file /l --label-file=/l \
                    -u 1000 -u1000 --user app --user=app -w /app -w/app --workdir /app --workdir=/app \
                    --entrypoint sh --entrypoint=sh --expose 80 --expose=80 \
                    --health-cmd 'curl -f localhost' --health-interval=5s --no-healthcheck \
                    --stop-signal SIGINT --stop-signal=SIGINT --stop-timeout 5 \
                    -h box -hbox --hostname box --hostname=box --domainname d --domainname=d \
                    --mac-address 02:42:ac:11:00:02 --mac-address=02:42:ac:11:00:02 \
                    -v /a:/b";
        let options = parse_args(text, "o").unwrap();
        let filtered = filter(&options, Phase::Predeploy);
        assert_eq!(filtered.args, words("-v /a:/b"));
        assert_eq!(filtered.warnings.len(), options.len() - 1);
        let shown: Vec<&str> = filtered
            .warnings
            .iter()
            .map(|warning| {
                warning
                    .strip_prefix("docker option `")
                    .and_then(|rest| rest.split_once('`'))
                    .map(|(shown, _)| shown)
                    .unwrap()
            })
            .collect();
        assert_eq!(
            &shown[..7],
            &[
                "-e A=…",
                "-eB=…",
                "-e=C=…",
                "--env D=…",
                "--env=E=…",
                "--env-file /x.env",
                "--env-file=/y.env"
            ]
        );
        assert!(shown.contains(&"--health-cmd 'curl -f localhost'"));
        assert!(shown.contains(&"-hbox"));
    }

    #[test]
    fn dokkus_own_run_args_keep_their_labels_for_predeploy_without_a_warning() {
        let dokku = "--label=org.label-schema.schema-version=1.0 \
                     --label=org.label-schema.vendor=dokku --label=dokku";
        let options = parse_args(dokku, "DOKKU_GLOBAL_RUN_ARGS").unwrap();
        let filtered = filter_dokku_run_args(&options, Phase::Predeploy);
        assert!(filtered.warnings.is_empty(), "{:?}", filtered.warnings);
        assert_eq!(filtered.args.len(), 3);
        let with_env = parse_args("--label=dokku -e X=1", "DOKKU_GLOBAL_RUN_ARGS").unwrap();
        let filtered = filter_dokku_run_args(&with_env, Phase::Predeploy);
        assert_eq!(filtered.args, ["--label=dokku"]);
        assert_eq!(filtered.warnings.len(), 1);
    }

    #[test]
    fn the_config_plugins_bare_env_keys_are_left_out_and_assignments_kept() {
        let options = parse_args(
            "--env=SECRET --env SECRET2 -e SECRET3 -eSECRET4 -e A=1 --env=B=2 -v /x:/y",
            "docker-args-deploy",
        )
        .unwrap();
        let kept = without_config_keys(options);
        let flat: Vec<String> = kept.into_iter().flatten().collect();
        assert_eq!(flat, ["-e", "A=1", "--env=B=2", "-v", "/x:/y"]);
    }

    #[test]
    fn env_warnings_never_show_the_value() {
        let text =
            "-e DATABASE_URL=postgres://user:hunter2@db/app --env=TOKEN=hunter2 -eX=hunter2 \
                    -e 'SPACED=hunter2 hunter2' -e PASSTHROUGH";
        let filtered = filter(&parse_args(text, "o").unwrap(), Phase::Predeploy);
        assert_eq!(filtered.warnings.len(), 5);
        for warning in &filtered.warnings {
            assert!(!warning.contains("hunter2"), "{warning}");
        }
        assert!(filtered.warnings[0].contains("`-e DATABASE_URL=…`"));
        assert!(filtered.warnings[4].contains("`-e PASSTHROUGH`"));
    }

    #[test]
    fn filter_flattens_in_order() {
        let options = vec![
            option(&["--link", "db:db"]),
            option(&["--rm"]),
            option(&["-v", "/a:/b"]),
        ];
        assert_eq!(
            filter(&options, Phase::Release).args,
            words("--link db:db -v /a:/b")
        );
        assert_eq!(filter(&[], Phase::Predeploy), Filtered::default());
        assert_eq!(filter(&[Vec::new()], Phase::Predeploy), Filtered::default());
    }

    #[test]
    fn odd_flags_are_kept_without_panicking() {
        let options = vec![
            option(&["-"]),
            option(&["--"]),
            option(&["-é"]),
            option(&["-xé"]),
        ];
        assert_eq!(
            filter(&options, Phase::Predeploy).args,
            words("- -- -é -xé")
        );
    }

    #[test]
    fn an_env_option_the_image_has_already_leaves_a_predeploy_silently() {
        let image_env = vec!["USER=herokuishuser".to_string(), "PATH=/bin".to_string()];
        for text in [
            "--env=USER=herokuishuser",
            "--env USER=herokuishuser",
            "-e USER=herokuishuser",
            "-eUSER=herokuishuser",
        ] {
            let options = parse_args(text, "o").unwrap();
            let predeploy = filter_for_image(&options, Phase::Predeploy, &image_env);
            assert!(
                predeploy.args.is_empty() && predeploy.warnings.is_empty(),
                "{text}: {predeploy:?}"
            );
            let release = filter_for_image(&options, Phase::Release, &image_env);
            assert!(!release.args.is_empty(), "{text}");
        }
        // Another value, or another option, is still dropped with its warning.
        for text in ["--env=USER=root", "--label=a=b"] {
            let options = parse_args(text, "o").unwrap();
            let predeploy = filter_for_image(&options, Phase::Predeploy, &image_env);
            assert!(predeploy.args.is_empty(), "{text}");
            assert_eq!(predeploy.warnings.len(), 1, "{text}");
        }
    }
}
