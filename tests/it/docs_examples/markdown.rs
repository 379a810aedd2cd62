//! The examples of a Markdown page: its fenced code blocks, the `<!-- example: ... -->`
//! marker before each, and the commands and shown output of a block.

/// What the marker before a block says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    /// `<!-- example: serve NAME -->`: an `sh` block holding the one `serve` command that
    /// starts the server `NAME`.
    Serve(String),
    /// `<!-- example: NAME -->`: run the block's commands against the server `NAME`.
    Run(String),
    /// `<!-- example: not run: REASON -->`: shown, not run, and why.
    NotRun(String),
}

/// One fenced code block.
#[derive(Debug, Clone)]
pub struct Block {
    /// The page, relative to the repository root (`docs/explain.md`).
    pub file: String,
    /// The line of the opening fence, from 1.
    pub line: usize,
    /// The info string of the fence: `console`, `sh`, `yaml`, ... (empty for none).
    pub lang: String,
    /// The marker on the line before the fence (blank lines between are allowed).
    pub marker: Option<Marker>,
    /// The lines between the fences, with their line numbers.
    pub lines: Vec<(usize, String)>,
}

impl Block {
    /// `docs/explain.md:12`, the block's opening fence.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// One command of a block, with the output shown after it (`console`) or none (`sh`).
#[derive(Debug, Clone)]
pub struct Command {
    /// `README.md:87`, where the command starts.
    pub at: String,
    /// The command as written, continuation lines included (joined by newlines).
    pub text: String,
    /// The output shown for it, with line numbers; trailing blank and `#` comment lines
    /// are left out (they belong to the next command).
    pub expected: Vec<(usize, String)>,
}

const MARKER_START: &str = "<!-- example:";

/// The fenced code blocks of `text` and their markers. A marker not followed by a code
/// block, or a marker that says nothing the harness knows, is an error.
pub fn blocks(file: &str, text: &str) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    let mut marker: Option<(usize, Marker)> = None;
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    while let Some((number, line)) = lines.next() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix(MARKER_START) {
            if let Some((at, _)) = &marker {
                return Err(format!("{file}:{at}: example marker not followed by a code block"));
            }
            let value = rest
                .strip_suffix("-->")
                .ok_or_else(|| format!("{file}:{number}: an example marker is one line ending in `-->`"))?;
            marker = Some((number, parse_marker(value.trim()).map_err(|e| format!("{file}:{number}: {e}"))?));
            continue;
        }
        if let Some(info) = line.strip_prefix("```") {
            let mut body = Vec::new();
            let mut closed = false;
            for (n, l) in lines.by_ref() {
                if l.trim_end() == "```" {
                    closed = true;
                    break;
                }
                body.push((n, l.to_owned()));
            }
            if !closed {
                return Err(format!("{file}:{number}: code block never closed"));
            }
            blocks.push(Block {
                file: file.to_owned(),
                line: number,
                lang: info.trim().to_owned(),
                marker: marker.take().map(|(_, m)| m),
                lines: body,
            });
            continue;
        }
        if !trimmed.is_empty()
            && let Some((at, _)) = &marker
        {
            return Err(format!("{file}:{at}: example marker not followed by a code block"));
        }
    }
    if let Some((at, _)) = marker {
        return Err(format!("{file}:{at}: example marker not followed by a code block"));
    }
    Ok(blocks)
}

fn parse_marker(value: &str) -> Result<Marker, String> {
    let is_name = |s: &str| {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if let Some(reason) = value.strip_prefix("not run:") {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err("`<!-- example: not run: REASON -->` needs a reason".to_owned());
        }
        return Ok(Marker::NotRun(reason.to_owned()));
    }
    if let Some(name) = value.strip_prefix("serve ")
        && is_name(name.trim())
    {
        return Ok(Marker::Serve(name.trim().to_owned()));
    }
    if is_name(value) {
        return Ok(Marker::Run(value.to_owned()));
    }
    Err(format!("unknown example marker `{value}`: say `serve NAME`, `NAME` (a server) or `not run: REASON`"))
}

/// Whether a command written so far goes on onto the next line: it ends in `\`, or a
/// quote is still open (sh rules, with `#` comments outside quotes).
pub fn continues(command: &str) -> bool {
    #[derive(PartialEq)]
    enum State {
        Plain,
        Single,
        Double,
        Comment,
    }
    let mut state = State::Plain;
    let mut chars = command.chars().peekable();
    let mut previous = '\n';
    let mut trailing_backslash = false;
    while let Some(c) = chars.next() {
        trailing_backslash = false;
        match state {
            State::Plain => match c {
                // A backslash escapes the next character; at the very end, the newline.
                '\\' => trailing_backslash = chars.next().is_none(),
                '\'' => state = State::Single,
                '"' => state = State::Double,
                '#' if previous.is_whitespace() => state = State::Comment,
                _ => {}
            },
            State::Single => {
                if c == '\'' {
                    state = State::Plain;
                }
            }
            State::Double => match c {
                '\\' => {
                    chars.next();
                }
                '"' => state = State::Plain,
                _ => {}
            },
            State::Comment => {
                if c == '\n' {
                    state = State::Plain;
                }
            }
        }
        previous = c;
    }
    trailing_backslash || state == State::Single || state == State::Double
}

/// The commands of a `console` block: each `$ ` line (and the lines it continues onto)
/// with the output shown after it. Blank and `# ` comment lines before a command are
/// words about it, not output.
pub fn console_commands(block: &Block) -> Result<Vec<Command>, String> {
    let mut commands: Vec<Command> = Vec::new();
    let mut lines = block.lines.iter().peekable();
    while let Some((number, line)) = lines.next() {
        if let Some(first) = line.strip_prefix("$ ") {
            let mut text = first.to_owned();
            while continues(&text) {
                let Some((_, next)) = lines.next() else {
                    return Err(format!(
                        "{}:{number}: the command never ends (open quote or `\\`)",
                        block.file
                    ));
                };
                text.push('\n');
                text.push_str(next);
            }
            commands.push(Command { at: format!("{}:{number}", block.file), text, expected: Vec::new() });
        } else if let Some(command) = commands.last_mut() {
            command.expected.push((*number, line.clone()));
        } else if !(line.trim().is_empty() || line.starts_with('#')) {
            return Err(format!("{}:{number}: output before the block's first `$ ` command", block.file));
        }
    }
    if commands.is_empty() {
        return Err(format!("{}: a console block without a `$ ` command", block.at()));
    }
    for command in &mut commands {
        while command.expected.last().is_some_and(|(_, l)| l.trim().is_empty() || l.starts_with('#')) {
            command.expected.pop();
        }
    }
    Ok(commands)
}

/// The commands of an `sh` block, comments and blank lines left out; no output is shown.
pub fn sh_commands(block: &Block) -> Result<Vec<Command>, String> {
    let mut commands = Vec::new();
    let mut lines = block.lines.iter();
    while let Some((number, line)) = lines.next() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let mut text = line.clone();
        while continues(&text) {
            let Some((_, next)) = lines.next() else {
                return Err(format!("{}:{number}: the command never ends (open quote or `\\`)", block.file));
            };
            text.push('\n');
            text.push_str(next);
        }
        commands.push(Command { at: format!("{}:{number}", block.file), text, expected: Vec::new() });
    }
    Ok(commands)
}
