//! [`CompactConfig`]: the budgets a compaction works within.

/// Largest summary accepted by default, in tokens.
pub const DEFAULT_SUMMARY_TOKENS: u64 = 4_000;

/// Budget for the newest user messages kept verbatim by default, in tokens.
pub const DEFAULT_USER_MESSAGE_TOKENS: u64 = 20_000;

/// Tokens reserved by default for the instructions a summarising turn sends with its request.
pub const DEFAULT_INSTRUCTIONS_RESERVE: u64 = 2_000;

/// The context window assumed when the model names none, in tokens.
pub const DEFAULT_CONTEXT_WINDOW: u64 = 128_000;

/// Compactions of one session after which each further one warns that answers may degrade.
pub const DEFAULT_WARN_AFTER: u32 = 3;

/// The budgets a compaction works within; every budget also shrinks with a small context
/// window, so a request always fits.
///
/// ```
/// use turnkit_tasks_compact::CompactConfig;
///
/// let config = CompactConfig::new().summary_tokens(2_000).warn_after(5);
/// assert_eq!(config.get_summary_tokens(), 2_000);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactConfig {
    summary_tokens: u64,
    user_message_tokens: u64,
    instructions_reserve: u64,
    default_context_window: u64,
    warn_after: u32,
}

impl Default for CompactConfig {
    fn default() -> Self {
        Self {
            summary_tokens: DEFAULT_SUMMARY_TOKENS,
            user_message_tokens: DEFAULT_USER_MESSAGE_TOKENS,
            instructions_reserve: DEFAULT_INSTRUCTIONS_RESERVE,
            default_context_window: DEFAULT_CONTEXT_WINDOW,
            warn_after: DEFAULT_WARN_AFTER,
        }
    }
}

impl CompactConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts summaries of at most this many tokens (at most an eighth of the window).
    pub fn summary_tokens(mut self, tokens: u64) -> Self {
        self.summary_tokens = tokens.max(1);
        self
    }

    /// Keeps the newest user messages verbatim within this many tokens (at most a quarter of
    /// the window).
    pub fn user_message_tokens(mut self, tokens: u64) -> Self {
        self.user_message_tokens = tokens;
        self
    }

    /// Reserves this many tokens of each request for the summarising turn's own instructions
    /// (at most an eighth of the window).
    pub fn instructions_reserve(mut self, tokens: u64) -> Self {
        self.instructions_reserve = tokens;
        self
    }

    /// Assumes this context window when the model names none.
    pub fn default_context_window(mut self, tokens: u64) -> Self {
        self.default_context_window = tokens.max(1);
        self
    }

    /// Warns on every compaction of a session past this many.
    pub fn warn_after(mut self, compactions: u32) -> Self {
        self.warn_after = compactions;
        self
    }

    /// The largest summary accepted, in tokens.
    pub fn get_summary_tokens(&self) -> u64 {
        self.summary_tokens
    }

    /// The budget for user messages kept verbatim, in tokens.
    pub fn get_user_message_tokens(&self) -> u64 {
        self.user_message_tokens
    }

    /// The tokens reserved for a summarising turn's own instructions.
    pub fn get_instructions_reserve(&self) -> u64 {
        self.instructions_reserve
    }

    /// The context window assumed when the model names none.
    pub fn get_default_context_window(&self) -> u64 {
        self.default_context_window
    }

    /// How many compactions of one session pass without a warning.
    pub fn get_warn_after(&self) -> u32 {
        self.warn_after
    }
}
