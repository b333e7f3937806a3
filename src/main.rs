//! The `cuppa` command: parse, load configuration, dispatch.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::{ArgGroup, Args, Parser, Subcommand};
use cuppa::config::Config;
use cuppa::db::Database;
use cuppa::members::model::Role;
use cuppa::moderation::actions::{self, Move, check_reason};
use cuppa::moderation::audit::Actor;
use cuppa::notify::sender::Mailer;
use cuppa::scheduler::matching;
use cuppa::scheduler::round::Outcome;
use cuppa::server::{self, Jobs};
use cuppa::shutdown::{self, Shutdown};
use cuppa::{AppState, members, moderation, seed};

#[derive(Parser)]
#[command(name = "cuppa", version, about = "Turns online follows into in-person coffees.")]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server and its background jobs (the default).
    Serve {
        /// Fill an empty database with a demo community of 200 members first.
        #[arg(long)]
        demo: bool,
        /// Serve pages only, for extra replicas beside one that runs the jobs.
        #[arg(long)]
        no_jobs: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Build a deterministic synthetic community into an empty database.
    Seed {
        #[arg(long, default_value_t = 200)]
        members: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Run this week's scheduler round now, unless it has run, and print its figures.
    Schedule {
        /// Work the round out and print its figures, writing nothing.
        #[arg(long)]
        dry_run: bool,
        /// With --dry-run: also write the graph the round's matching solves to FILE, in the
        /// edge-list format `cuppa match --edges` reads (a first line "n m", then "u v w",
        /// 0-based), to check the round with another solver: the members of the candidate pairs
        /// that could meet (a common hour, a place), one edge a pair. Each weight is one
        /// constant plus the pair's affinity, so that the most pairs come first; the constant
        /// is printed.
        #[arg(long, value_name = "FILE", requires = "dry_run")]
        edges: Option<PathBuf>,
    },
    /// Account administration from the command line.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Solve a maximum-weight matching, or write a benchmark graph; needs no database.
    ///
    /// Prints one JSON line: n (vertices), m (edges), weight (of the matching), pairs (how many)
    /// and solve_s (seconds spent solving, reading and generating excluded).
    #[command(
        after_help = "Examples:\n  cuppa match --edges graph.txt\n  cuppa match --ba 100000 --write ba100k.txt\n  \
                            cuppa match --ba 10000 --seed 7"
    )]
    Match(MatchArgs),
}

#[derive(Args)]
#[command(group(ArgGroup::new("graph").required(true).args(["edges", "ba"])))]
struct MatchArgs {
    /// Solve the graph in FILE: a first line "n m", then m lines "u v w" (0-based vertices
    /// below n, integer weights; lines starting with # are skipped).
    #[arg(long, value_name = "FILE")]
    edges: Option<PathBuf>,
    /// Solve the deterministic Barabási–Albert benchmark graph with N vertices instead
    /// (average degree 12, weights 1..=100).
    #[arg(long, value_name = "N", conflicts_with = "edges")]
    ba: Option<usize>,
    /// Seed of the --ba graph.
    #[arg(long, default_value_t = 1, requires = "ba")]
    seed: u64,
    /// Write the --ba graph to FILE as an edge list instead of solving it, so that other
    /// solvers can be run on the same graph.
    #[arg(long, value_name = "FILE", requires = "ba")]
    write: Option<PathBuf>,
}

/// Each is written to the audit log as done at the command line by the logged-in user.
#[derive(Subcommand)]
enum AdminAction {
    /// Give a member a role: member, organiser or admin.
    Grant {
        handle: String,
        role: Role,
        #[arg(long, default_value = "Granted at the command line")]
        reason: String,
    },
    /// Suspend a member: logged out at their next request, refused at log-in, and their
    /// invitations, suggestions, meetup places and hosted meetups called off with notice.
    Suspend {
        handle: String,
        #[arg(long)]
        reason: String,
    },
    /// Hide a member from everyone else (directory, follower lists, search, matching).
    Hide {
        handle: String,
        #[arg(long)]
        reason: String,
    },
    /// Lift a suspension or unhide.
    Reinstate {
        handle: String,
        #[arg(long)]
        reason: String,
    },
    /// Let a member whose photos admins removed twice upload photos again.
    AllowPhotos {
        handle: String,
        #[arg(long)]
        reason: String,
    },
}

fn main() -> ExitCode {
    // A missing .env is normal; a broken one is worth saying.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        eprintln!("warning: could not read .env: {err}");
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_sessions=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    // Matching is pure computation: no runtime, no database.
    if let Some(Command::Match(args)) = &cli.command {
        return exit_code(run_match(args));
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: could not start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    exit_code(runtime.block_on(run(cli)))
}

fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_match(args: &MatchArgs) -> anyhow::Result<()> {
    let (n, edges) = match (&args.edges, args.ba) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("could not read {}", path.display()))?;
            matching::parse_edge_list(&text).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?
        }
        (None, Some(n)) => (n, matching::barabasi_albert(n, 6, args.seed)),
        (None, None) => bail!("give --edges FILE or --ba N"),
    };
    if let Some(path) = &args.write {
        std::fs::write(path, matching::write_edge_list(n, &edges))
            .with_context(|| format!("could not write {}", path.display()))?;
        eprintln!("Wrote {n} vertices and {} edges to {}", edges.len(), path.display());
        return Ok(());
    }
    let started = Instant::now();
    let pairs = matching::max_weight_matching(n, &edges);
    let solve_s = started.elapsed().as_secs_f64();
    let weight = matching::matching_weight(&edges, &pairs);
    let report = MatchReport { n, m: edges.len(), weight, pairs: pairs.len(), solve_s };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Writes a round's graph as `cuppa match --edges` reads it.
fn write_graph(mut file: std::fs::File, graph: &cuppa::scheduler::round::Graph) -> std::io::Result<()> {
    use std::io::Write;
    file.write_all(matching::write_edge_list(graph.members, &graph.edges).as_bytes())
}

/// The line `cuppa match` prints, in this key order.
#[derive(serde::Serialize)]
struct MatchReport {
    n: usize,
    m: usize,
    weight: i64,
    pairs: usize,
    solve_s: f64,
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let (stop, shutdown) = Shutdown::new();
    tokio::spawn(async move {
        shutdown::signal().await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    });
    let config = cli.config;
    let db = Database::open(&config).await?;
    let result = {
        let mut interrupted = shutdown.clone();
        tokio::select! {
            result = dispatch(cli.command, &config, &db, shutdown) => result,
            // Commands other than serve stop where they are; serve handles the signal itself.
            () = async { interrupted.wait().await; std::future::pending::<()>().await } => Ok(()),
        }
    };
    db.close().await?;
    result
}

async fn dispatch(command: Option<Command>, config: &Config, db: &Database, shutdown: Shutdown) -> anyhow::Result<()> {
    let command = command.unwrap_or(Command::Serve { demo: false, no_jobs: false });
    match command {
        Command::Serve { demo, no_jobs } => {
            db.migrate().await?;
            // Built before listening, so a bad mail setting stops the start with a clear error.
            let jobs = if no_jobs { None } else { Some(Jobs { mailer: Mailer::from_config(config)? }) };
            if demo && members::store::count_members(&db.pool).await? == 0 {
                println!("Seeding a demo community of 200 members...");
                seed::run(&db.pool, 200, 1, false).await?;
            }
            let listener = server::bind(config).await?;
            let metrics_listener = server::bind_metrics(config).await?;
            // Before the line below: whoever waits for that line may then read this one.
            if let Some(metrics) = &metrics_listener {
                println!("Metrics for Prometheus at http://{}/metrics", metrics.local_addr()?);
            }
            println!("Cuppa is running at http://{}", listener.local_addr()?);
            if demo {
                println!("Log in as `{}` with the password `{}`", seed::DEMO_HANDLE, seed::DEMO_PASSWORD);
                println!("(or as `{}`, an admin, with the same password)", seed::ADMIN_HANDLE);
            }
            if let Some(jobs) = &jobs {
                println!("Emails go to {}.", jobs.mailer.describe());
            }
            println!("Press Ctrl-C to stop.");
            let state = AppState {
                pool: db.pool.clone(),
                secure_cookies: config.secure_cookies,
                public_url: config.public_url(),
                scheduler: cuppa::scheduler::Settings::from_config(config),
                trusted_proxies: cuppa::web::TrustedProxies::new(config.trusted_proxies.iter().copied()),
            };
            server::serve(listener, state, jobs, metrics_listener, shutdown).await
        }
        Command::Migrate => {
            db.migrate().await?;
            println!("Migrations applied to {}", redact(&db.url));
            Ok(())
        }
        Command::Seed { members, seed: seed_value } => {
            db.migrate().await?;
            let started = std::time::Instant::now();
            seed::run(&db.pool, members, seed_value, std::io::stderr().is_terminal()).await?;
            println!("Seeded {members} members (seed {seed_value}) in {:.1?}", started.elapsed());
            Ok(())
        }
        Command::Schedule { dry_run, edges } => {
            db.migrate().await?;
            // Created before the round, so that a path that cannot be written fails at once
            // rather than after the round's work.
            let file = match &edges {
                Some(path) => {
                    Some(std::fs::File::create(path).with_context(|| format!("could not write {}", path.display()))?)
                }
                None => None,
            };
            let ran = cuppa::scheduler::round::run_with_graph(
                &db.pool,
                &cuppa::scheduler::Settings::from_config(config),
                Utc::now(),
                None,
                dry_run,
            )
            .await;
            let (outcome, graph) = match ran {
                Ok(ran) => ran,
                Err(err) => {
                    // No empty file left behind to be taken for a graph.
                    if let Some(path) = &edges {
                        std::fs::remove_file(path).ok();
                    }
                    return Err(err);
                }
            };
            let made = match &outcome {
                Outcome::Ran(figures) => {
                    let done = if dry_run { "Dry run, nothing written" } else { "Round written" };
                    println!("{done} for the week of {}: {}", figures.period, cuppa::scheduler::summary(figures));
                    Some((figures.pairs_made, figures.total_weight))
                }
                // Not failures: the work is being done, or was, by someone else.
                Outcome::AlreadyRunning => {
                    println!("A round is already running elsewhere; nothing done.");
                    None
                }
                Outcome::AlreadyDone(period) => {
                    println!("The round for the week of {period} has already run; nothing done.");
                    None
                }
            };
            if let (Some(path), Some(file)) = (&edges, file) {
                match (graph, made) {
                    (Some(graph), Some((pairs, affinity))) => {
                        write_graph(file, &graph).with_context(|| format!("could not write {}", path.display()))?;
                        println!(
                            "Wrote the round's graph to {}: {} members, {} pairs that could meet; each weight is {} \
                             plus the pair's affinity, so the round's matching has {pairs} pairs and weighs {}.",
                            path.display(),
                            graph.members,
                            graph.edges.len(),
                            graph.lift,
                            // Wider than the solver's sums, so that no figure can overflow.
                            i128::from(graph.lift) * i128::from(pairs) + i128::from(affinity)
                        );
                    }
                    _ => {
                        drop(file);
                        std::fs::remove_file(path).with_context(|| format!("could not remove {}", path.display()))?;
                        println!("No round was worked out, so no graph was written to {}.", path.display());
                    }
                }
            }
            Ok(())
        }
        Command::Match(_) => unreachable!("matching is handled before the database is opened"),
        Command::Admin { action } => {
            db.migrate().await?;
            let (handle, reason) = match &action {
                AdminAction::Grant { handle, reason, .. }
                | AdminAction::Suspend { handle, reason }
                | AdminAction::Hide { handle, reason }
                | AdminAction::Reinstate { handle, reason }
                | AdminAction::AllowPhotos { handle, reason } => (handle, reason),
            };
            let reason = check_reason(reason).map_err(|why| anyhow::anyhow!("--reason: {why}"))?;
            let member = moderation::store::find_member_key(&db.pool, handle)
                .await?
                .with_context(|| format!("no member has the handle {handle:?}"))?;
            let user = std::env::var("USER").unwrap_or_else(|_| "unknown user".to_owned());
            let actor = Actor::CommandLine(&user);
            let mv = match action {
                AdminAction::Grant { role, .. } => {
                    actions::change_role(&db.pool, actor, member.id, &member.handle, role, &reason).await?;
                    println!("Done: {} is now {role}.", member.handle);
                    return Ok(());
                }
                AdminAction::AllowPhotos { .. } => {
                    actions::allow_photos(&db.pool, actor, member.id, &member.handle, &reason).await?;
                    println!("Done: {} can upload photos again.", member.handle);
                    return Ok(());
                }
                AdminAction::Suspend { .. } => Move::Suspend,
                AdminAction::Hide { .. } => Move::Hide,
                AdminAction::Reinstate { .. } => Move::Reinstate,
            };
            let effects = actions::apply(&db.pool, actor, member.id, &member.handle, mv, &reason).await?;
            println!("Done: {} updated.{}", member.handle, effects.describe());
            Ok(())
        }
    }
}

/// The URL without any password, for printing.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…{}", &url[..scheme], &url[at..]),
        _ => url.to_owned(),
    }
}
