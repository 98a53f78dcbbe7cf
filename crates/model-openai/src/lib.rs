//! An OpenAI-compatible model client (written in a later commit).
