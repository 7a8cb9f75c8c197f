//! The stand-in control plane under `/__parlor/` (issue 15): on only for a stand-in, and only
//! for the server admin. One file per part of it.

mod clock;
mod faults;
mod frame;
mod ids;
mod journal;
mod sandboxes;
mod state;
