//! Who may ask what, and what nobody may ask: API keys and roles across organizations, query
//! limits just under and over, hostile input, CORS, and secrets that never leave.

mod codes;
mod hostile;
mod limits;
mod matrix;
