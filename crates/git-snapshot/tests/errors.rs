//! Clear errors, and nothing changed, when there is no repository, no working tree or no git.

mod support;

use support::TestRepo;
use tokio_util::sync::CancellationToken;
use turnkit_git_snapshot::{Error, OpenOptions, Repository};

#[tokio::test]
async fn a_directory_outside_any_repository_is_not_a_repository() {
    let test = TestRepo::new();
    let plain = test.root().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let mut options = test.open_options();
    options = options.env("GIT_CEILING_DIRECTORIES", test.root());
    let error = Repository::open_with(&plain, options, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::NotARepository { .. }), "{error}");
    assert!(error.to_string().contains("git init"));
    assert_eq!(
        std::fs::read_dir(&plain).unwrap().count(),
        0,
        "nothing was written"
    );
}

#[tokio::test]
async fn a_bare_repository_is_refused() {
    let test = TestRepo::new();
    let bare = test.root().join("bare.git");
    test.git(&["init", "-q", "--bare", bare.to_str().unwrap()]);
    let error = Repository::open_with(&bare, test.open_options(), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::BareRepository { .. }), "{error}");
}

#[tokio::test]
async fn the_git_directory_itself_is_refused() {
    let test = TestRepo::new();
    let error = Repository::open_with(
        test.git_dir(),
        test.open_options(),
        &CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::InsideGitDir { .. }), "{error}");
}

#[tokio::test]
async fn a_missing_git_says_how_to_fix_it() {
    let test = TestRepo::new();
    let options = OpenOptions {
        git_program: test.root().join("no-such-git"),
        ..test.open_options()
    };
    let error = Repository::open_with(&test.work, options, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::GitNotFound { .. }), "{error}");
    assert!(error.to_string().contains("install git"));
}

#[tokio::test]
async fn a_missing_directory_is_not_a_directory() {
    let test = TestRepo::new();
    let error = Repository::open_with(
        test.root().join("missing"),
        test.open_options(),
        &CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::NotADirectory { .. }), "{error}");
}

#[tokio::test]
async fn a_pruned_snapshot_is_reported_missing() {
    let test = TestRepo::new();
    test.write("a.txt", "1\n");
    let repo = test.open().await;
    let before = test.snapshot(&repo).await;
    test.write("a.txt", "2\n");
    let after = test.snapshot(&repo).await;
    std::fs::remove_dir_all(repo.snapshot_store()).unwrap();
    let error = turnkit_git_snapshot::plan_undo(&repo, &before, &after, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::SnapshotMissing { .. }), "{error}");
}
