//! The `litequant` command line: a thin layer over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "litequant",
    version,
    about = "Post-training quantization of TensorFlow Lite models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show a model: subgraphs, inputs and outputs, tensors with quantization, op histogram,
    /// weight bytes by dtype.
    Inspect {
        /// The .tflite file.
        model: PathBuf,
        /// Print the stable JSON form (see docs/inspect-json.md) instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn run(cli: Cli) -> litequant::Result<()> {
    match cli.command {
        Command::Inspect { model, json } => {
            let m = litequant::Model::from_file(&model)?;
            let size = std::fs::metadata(&model).ok().map(|m| m.len());
            let report = litequant::inspect::Report::new(&m, size);
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{report}");
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("litequant: error: {e}");
            ExitCode::FAILURE
        }
    }
}
