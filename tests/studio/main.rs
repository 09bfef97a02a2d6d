//! The studio as a user drives it, through egui_kittest on the tiny fixture models: widgets are
//! found by their labels, clicked and typed into, and files are dropped on the window.

#[path = "../common/mod.rs"]
mod common;
mod harness;

mod command_line;
mod dialogs;
mod flows;
mod keeping;
mod layout;
mod library;
mod models;
mod queue;
mod responsiveness;
