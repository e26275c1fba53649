//! The contract of [`Store`], as tests that every store must pass: run
//! against [`MemoryStore`], and [`SqliteStore`](super::sqlite::SqliteStore)
//! in memory and on a file.
//!
//! Each area uses its own accounts and nodes, so that all of them can run
//! on one store, one after the other.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::{
    MemoryStore, Spooled, Store, StoreError, StoredItem, StoredNode, StoredSession,
    StoredSubscription,
};
use crate::jid::BareJid;
use crate::sasl::{ScramCredentials, ScramHash};

/// Every area, on one store.
pub(super) fn run_all(store: &dyn Store) {
    meta(store);
    accounts(store);
    rosters(store);
    spool_order_and_count(store);
    spool_limit(store);
    spool_sender(store);
    spool_sent_acked_released(store);
    spool_remove(store);
    sessions(store);
    nodes(store);
    items(store);
    subscriptions(store);
    concurrent_spool(store);
}

/// A database file in the temporary directory, removed (with its WAL and
/// shared-memory files) on drop.
pub(super) struct TempDb {
    pub(super) path: PathBuf,
}

impl TempDb {
    pub(super) fn new(tag: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "xmpp-kit-store-{tag}-{}-{n}.sqlite",
            std::process::id()
        ));
        let db = Self { path };
        db.remove();
        db
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove();
    }
}

pub(super) fn jid(s: &str) -> BareJid {
    s.parse().unwrap()
}

pub(super) fn session(id: &str, jid: &str, inbound: u32) -> StoredSession {
    StoredSession {
        id: id.into(),
        jid: jid.parse().unwrap(),
        inbound,
    }
}

pub(super) fn verifier(hash: ScramHash, password: &str) -> ScramCredentials {
    // One iteration: the store keeps the fields, it never derives.
    ScramCredentials::derive(hash, password, b"salt-of-16-bytes", 1)
}

pub(super) fn item(service: &str, node: &str, id: &str, stamp_ms: u64) -> StoredItem {
    StoredItem {
        service: service.into(),
        node: node.into(),
        id: id.into(),
        publisher: "pub@example.org/r".into(),
        payload: format!("<entry>{id}@{stamp_ms}</entry>"),
        stamp_ms,
    }
}

pub(super) fn subscription(
    service: &str,
    node: &str,
    jid: &str,
    subid: &str,
    state: &str,
) -> StoredSubscription {
    StoredSubscription {
        service: service.into(),
        node: node.into(),
        jid: jid.into(),
        subid: subid.into(),
        state: state.into(),
    }
}

fn ids(items: &[StoredItem]) -> Vec<&str> {
    items.iter().map(|i| i.id.as_str()).collect()
}

fn sorted_subs(mut subs: Vec<StoredSubscription>) -> Vec<(String, String, String)> {
    subs.sort_by(|a, b| (&a.jid, &a.subid).cmp(&(&b.jid, &b.subid)));
    subs.into_iter()
        .map(|s| (s.jid, s.subid, s.state))
        .collect()
}

fn meta(store: &dyn Store) {
    assert_eq!(store.meta("ca").unwrap(), None);
    store.set_meta("ca", "one").unwrap();
    store.set_meta("other", "x").unwrap();
    assert_eq!(store.meta("ca").unwrap().as_deref(), Some("one"));
    store.set_meta("ca", "two").unwrap();
    assert_eq!(store.meta("ca").unwrap().as_deref(), Some("two"));
    assert_eq!(store.meta("other").unwrap().as_deref(), Some("x"));
    store.set_meta("empty", "").unwrap();
    assert_eq!(store.meta("empty").unwrap().as_deref(), Some(""));
}

fn accounts(store: &dyn Store) {
    let base = store.account_count().unwrap();
    let alice = jid("alice@accounts.example");
    let bob = jid("bob@accounts.example");
    assert_eq!(store.account(&alice).unwrap(), None);
    assert!(!store.account_exists(&alice).unwrap());
    assert!(!store.remove_account(&alice).unwrap());

    let both = vec![
        verifier(ScramHash::Sha256, "pencil"),
        verifier(ScramHash::Sha1, "pencil"),
    ];
    store.put_account(&alice, &both).unwrap();
    assert_eq!(store.account(&alice).unwrap(), Some(both.clone()));
    assert!(store.account_exists(&alice).unwrap());
    assert_eq!(store.account_count().unwrap(), base + 1);

    // Replacing drops the old verifiers, including a hash no longer given.
    let new = vec![verifier(ScramHash::Sha512, "eraser")];
    store.put_account(&alice, &new).unwrap();
    let got = store.account(&alice).unwrap().unwrap();
    assert_eq!(got, new);
    assert!(got[0].verify_password("eraser"));
    assert_eq!(store.account_count().unwrap(), base + 1);

    // An account without verifiers exists.
    store.put_account(&bob, &[]).unwrap();
    assert_eq!(store.account(&bob).unwrap(), Some(Vec::new()));
    assert_eq!(store.account_count().unwrap(), base + 2);

    assert!(store.remove_account(&alice).unwrap());
    assert!(!store.remove_account(&alice).unwrap());
    assert_eq!(store.account(&alice).unwrap(), None);
    assert_eq!(store.account_count().unwrap(), base + 1);
    // Put again without verifiers: none of the removed ones come back.
    store.put_account(&alice, &[]).unwrap();
    assert_eq!(store.account(&alice).unwrap(), Some(Vec::new()));
    assert!(store.remove_account(&alice).unwrap());
    assert!(store.remove_account(&bob).unwrap());
    assert_eq!(store.account_count().unwrap(), base);
}

fn rosters(store: &dyn Store) {
    let alice = jid("alice@rosters.example");
    let bob = jid("bob@rosters.example");
    let mine = |store: &dyn Store| {
        let mut r: Vec<_> = store
            .rosters()
            .unwrap()
            .into_iter()
            .filter(|(u, _)| u.domain() == "rosters.example")
            .collect();
        r.sort_by(|a, b| a.0.cmp(&b.0));
        r
    };
    assert!(mine(store).is_empty());
    store.put_roster(&alice, "<a/>").unwrap();
    store.put_roster(&bob, "<b/>").unwrap();
    store.put_roster(&alice, "<a2/>").unwrap();
    assert_eq!(
        mine(store),
        vec![
            (alice.clone(), "<a2/>".into()),
            (bob.clone(), "<b/>".into())
        ]
    );
    store.remove_roster(&alice).unwrap();
    store.remove_roster(&alice).unwrap();
    assert_eq!(mine(store), vec![(bob.clone(), "<b/>".into())]);
    store.remove_roster(&bob).unwrap();
    assert!(mine(store).is_empty());
}

fn spool_order_and_count(store: &dyn Store) {
    let alice = jid("alice@spool.example");
    let bob = jid("bob@spool.example");
    assert!(store.spooled(&alice).unwrap().is_empty());
    assert_eq!(store.spool_count(&alice).unwrap(), 0);

    let a1 = store.spool(&alice, "<m1/>", 1000, 10, None).unwrap();
    let b1 = store.spool(&bob, "<m2/>", 999, 10, None).unwrap();
    let a2 = store.spool(&alice, "<m3/>", 5, 10, None).unwrap();
    assert!(a1 < b1 && b1 < a2, "ids ascend in the order of spooling");
    let got = store.spooled(&alice).unwrap();
    assert_eq!(
        got,
        vec![
            Spooled {
                id: a1,
                user: alice.clone(),
                stanza: "<m1/>".into(),
                stamp_ms: 1000,
                sent: None,
            },
            Spooled {
                id: a2,
                user: alice.clone(),
                stanza: "<m3/>".into(),
                stamp_ms: 5,
                sent: None,
            },
        ],
        "oldest first, by id and not by stamp"
    );
    assert_eq!(store.spool_count(&alice).unwrap(), 2);
    assert_eq!(store.spool_count(&bob).unwrap(), 1);

    // Ids are never given twice, even after the newest was removed.
    store.spool_remove(a2).unwrap();
    let a3 = store.spool(&alice, "<m4/>", u64::MAX, 10, None).unwrap();
    assert!(a3 > a2);
    assert_eq!(store.spooled(&alice).unwrap()[1].stamp_ms, u64::MAX);

    for id in [a1, b1, a3] {
        store.spool_remove(id).unwrap();
    }
    assert_eq!(store.spool_count(&alice).unwrap(), 0);
    assert_eq!(store.spool_count(&bob).unwrap(), 0);
}

fn spool_limit(store: &dyn Store) {
    let alice = jid("alice@limit.example");
    let bob = jid("bob@limit.example");
    let ids: Vec<u64> = (0..3)
        .map(|i| {
            store
                .spool(&alice, &format!("<m{i}/>"), i, 3, None)
                .unwrap()
        })
        .collect();
    match store.spool(&alice, "<over/>", 9, 3, None) {
        Err(StoreError::Full { limit: 3, .. }) => {}
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(store.spool_count(&alice).unwrap(), 3, "nothing was added");
    // The limit is per account.
    let b = store.spool(&bob, "<m/>", 0, 3, None).unwrap();
    // A larger limit lets it through; a limit of 0 refuses everything.
    let extra = store.spool(&alice, "<m3/>", 3, 4, None).unwrap();
    assert!(matches!(
        store.spool(&bob, "<m/>", 0, 0, None),
        Err(StoreError::Full { limit: 0, .. })
    ));
    // A refused spool does not store its sender.
    let refused = session("limit-refused", "bob@limit.example/r", 7);
    assert!(store.spool(&bob, "<m/>", 0, 1, Some(&refused)).is_err());
    assert!(!store.sessions().unwrap().iter().any(|s| s.id == refused.id));
    // Removing one makes room again.
    store.spool_remove(ids[0]).unwrap();
    let again = store.spool(&alice, "<m4/>", 4, 4, None).unwrap();
    for id in ids.iter().skip(1).chain([&b, &extra, &again]) {
        store.spool_remove(*id).unwrap();
    }
    assert_eq!(store.spool_count(&alice).unwrap(), 0);
}

fn spool_sender(store: &dyn Store) {
    let alice = jid("alice@sender.example");
    let s = session("sender-1", "bob@sender.example/phone", 4);
    let id = store.spool(&alice, "<m/>", 1, 10, Some(&s)).unwrap();
    assert!(store.sessions().unwrap().contains(&s));
    // A second spool updates the sender's inbound count.
    let s5 = StoredSession {
        inbound: 5,
        ..s.clone()
    };
    let id2 = store.spool(&alice, "<m2/>", 2, 10, Some(&s5)).unwrap();
    let stored: Vec<_> = store
        .sessions()
        .unwrap()
        .into_iter()
        .filter(|x| x.id == s.id)
        .collect();
    assert_eq!(stored, vec![s5]);
    // The spooled stanzas wait: the sender is not the session they go on.
    assert!(
        store
            .spooled(&alice)
            .unwrap()
            .iter()
            .all(|m| m.sent.is_none())
    );
    store.remove_session(&s.id).unwrap();
    store.spool_remove(id).unwrap();
    store.spool_remove(id2).unwrap();
}

fn spool_sent_acked_released(store: &dyn Store) {
    let alice = jid("alice@acks.example");
    let one = session("acks-1", "alice@acks.example/phone", 0);
    let two = session("acks-2", "alice@acks.example/laptop", 0);
    let ids: Vec<u64> = (0..5)
        .map(|i| {
            store
                .spool(&alice, &format!("<m{i}/>"), i, 10, None)
                .unwrap()
        })
        .collect();

    // Sent on `one` with seq 1..=3, on `two` with seq 1; the last waits.
    for (seq, id) in (1..).zip(&ids[..3]) {
        store.spool_sent(*id, &one, seq).unwrap();
    }
    let two_later = StoredSession {
        inbound: 9,
        ..two.clone()
    };
    store.spool_sent(ids[3], &two_later, 1).unwrap();
    let sessions = store.sessions().unwrap();
    assert!(sessions.contains(&one), "spool_sent stores the session");
    assert!(sessions.contains(&two_later));
    let sent: Vec<_> = store
        .spooled(&alice)
        .unwrap()
        .into_iter()
        .map(|m| m.sent)
        .collect();
    assert_eq!(
        sent,
        vec![
            Some(("acks-1".into(), 1)),
            Some(("acks-1".into(), 2)),
            Some(("acks-1".into(), 3)),
            Some(("acks-2".into(), 1)),
            None,
        ]
    );

    // Acknowledging h = 2 on `one` removes seq 1 and 2 there, nothing on
    // `two` (also at seq 1), nothing waiting.
    store.spool_acked("acks-1", 2).unwrap();
    let left: Vec<u64> = store
        .spooled(&alice)
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(left, ids[2..].to_vec());
    // Acknowledging again, or an unknown session, changes nothing.
    store.spool_acked("acks-1", 2).unwrap();
    store.spool_acked("acks-unknown", 100).unwrap();
    assert_eq!(store.spool_count(&alice).unwrap(), 3);

    // Resending on another session moves the stanza there.
    store.spool_sent(ids[2], &two, 2).unwrap();
    store.spool_acked("acks-1", u32::MAX).unwrap();
    assert_eq!(store.spool_count(&alice).unwrap(), 3);

    // Releasing `two`: its stanzas wait again, the session is gone, and a
    // late acknowledgement on it removes nothing.
    store.spool_release("acks-2").unwrap();
    let all = store.spooled(&alice).unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|m| m.sent.is_none()));
    assert!(!store.sessions().unwrap().iter().any(|s| s.id == "acks-2"));
    store.spool_acked("acks-2", u32::MAX).unwrap();
    assert_eq!(store.spool_count(&alice).unwrap(), 3);
    // `one` is still there: release touches only its own session.
    assert!(store.sessions().unwrap().iter().any(|s| s.id == "acks-1"));
    store.spool_release("acks-1").unwrap();
    store.spool_release("acks-unknown").unwrap();

    // The highest sequence number is acknowledged like any other.
    store.spool_sent(ids[4], &one, u32::MAX).unwrap();
    store.spool_acked("acks-1", u32::MAX - 1).unwrap();
    assert_eq!(store.spool_count(&alice).unwrap(), 3);
    store.spool_acked("acks-1", u32::MAX).unwrap();
    assert_eq!(store.spool_count(&alice).unwrap(), 2);

    // spool_sent for an id that is gone still stores the session.
    let three = session("acks-3", "alice@acks.example/tablet", 1);
    store.spool_sent(ids[0], &three, 1).unwrap();
    assert!(store.sessions().unwrap().contains(&three));
    store.spool_sent(u64::MAX, &three, 1).unwrap();

    for s in ["acks-1", "acks-3"] {
        store.remove_session(s).unwrap();
    }
    for id in &ids {
        store.spool_remove(*id).unwrap();
    }
    assert_eq!(store.spool_count(&alice).unwrap(), 0);
}

fn spool_remove(store: &dyn Store) {
    let alice = jid("alice@remove.example");
    let s = session("remove-1", "alice@remove.example/r", 0);
    let a = store.spool(&alice, "<a/>", 0, 10, None).unwrap();
    let b = store.spool(&alice, "<b/>", 0, 10, None).unwrap();
    store.spool_sent(a, &s, 1).unwrap();
    store.spool_remove(a).unwrap();
    store.spool_remove(a).unwrap();
    store.spool_remove(u64::MAX).unwrap();
    let left = store.spooled(&alice).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, b);
    // Removing a session leaves its stanzas as they are.
    store.spool_sent(b, &s, 2).unwrap();
    store.remove_session(&s.id).unwrap();
    assert_eq!(
        store.spooled(&alice).unwrap()[0].sent,
        Some(("remove-1".into(), 2))
    );
    store.spool_remove(b).unwrap();
    assert!(store.spooled(&alice).unwrap().is_empty());
}

fn sessions(store: &dyn Store) {
    let mine = |store: &dyn Store| {
        let mut s: Vec<_> = store
            .sessions()
            .unwrap()
            .into_iter()
            .filter(|s| s.id.starts_with("sessions-"))
            .collect();
        s.sort_by(|a, b| a.id.cmp(&b.id));
        s
    };
    assert!(mine(store).is_empty());
    let a = session("sessions-a", "alice@sessions.example/phone", 3);
    let b = session("sessions-b", "bob@sessions.example/laptop", u32::MAX);
    store.put_session(&a).unwrap();
    store.put_session(&b).unwrap();
    assert_eq!(mine(store), vec![a.clone(), b.clone()]);
    let a2 = session("sessions-a", "alice@sessions.example/other", 4);
    store.put_session(&a2).unwrap();
    assert_eq!(mine(store), vec![a2, b.clone()]);
    store.remove_session("sessions-a").unwrap();
    store.remove_session("sessions-a").unwrap();
    assert_eq!(mine(store), vec![b]);
    store.remove_session("sessions-b").unwrap();
    assert!(mine(store).is_empty());
}

fn nodes(store: &dyn Store) {
    let mine = |store: &dyn Store| -> Vec<StoredNode> {
        store
            .nodes()
            .unwrap()
            .into_iter()
            .filter(|n| n.service.ends_with("nodes.example"))
            .collect()
    };
    let node = |service: &str, node: &str, config: &str| StoredNode {
        service: service.into(),
        node: node.into(),
        config: config.into(),
    };
    assert!(mine(store).is_empty());
    assert!(!store.remove_node("pubsub.nodes.example", "news").unwrap());
    let news = node("pubsub.nodes.example", "news", "<c1/>");
    let pep = node("alice@nodes.example", "urn:xmpp:avatar:data", "<c/>");
    store.put_node(&news).unwrap();
    store.put_node(&pep).unwrap();
    let news2 = node("pubsub.nodes.example", "news", "<c2/>");
    store.put_node(&news2).unwrap();
    let mut got = mine(store);
    got.sort_by(|a, b| (&a.service, &a.node).cmp(&(&b.service, &b.node)));
    assert_eq!(got, vec![pep.clone(), news2]);

    // Removing a node removes its items and subscriptions, not another's.
    let (svc, n) = ("pubsub.nodes.example", "news");
    store.put_item(&item(svc, n, "i1", 1), 10).unwrap();
    store
        .put_subscription(&subscription(svc, n, "bob@x", "s1", "subscribed"))
        .unwrap();
    store
        .put_item(&item(&pep.service, &pep.node, "a", 1), 10)
        .unwrap();
    store
        .put_subscription(&subscription(
            &pep.service,
            &pep.node,
            "bob@x",
            "s1",
            "subscribed",
        ))
        .unwrap();
    assert!(store.remove_node(svc, n).unwrap());
    assert!(store.items(svc, n).unwrap().is_empty());
    assert!(store.subscriptions(svc, n).unwrap().is_empty());
    assert!(!store.remove_node(svc, n).unwrap());
    assert_eq!(mine(store), vec![pep.clone()]);
    assert_eq!(store.items(&pep.service, &pep.node).unwrap().len(), 1);
    assert_eq!(
        store.subscriptions(&pep.service, &pep.node).unwrap().len(),
        1
    );
    // A node created again starts empty.
    store.put_node(&news).unwrap();
    assert!(store.items(svc, n).unwrap().is_empty());
    assert!(store.remove_node(svc, n).unwrap());
    assert!(store.remove_node(&pep.service, &pep.node).unwrap());
    assert!(mine(store).is_empty());
}

fn items(store: &dyn Store) {
    let (svc, n) = ("pubsub.items.example", "feed");
    assert!(store.items(svc, n).unwrap().is_empty());
    assert!(!store.remove_item(svc, n, "a").unwrap());

    store.put_item(&item(svc, n, "a", 30), 10).unwrap();
    store.put_item(&item(svc, n, "b", 20), 10).unwrap();
    store.put_item(&item(svc, n, "c", 10), 10).unwrap();
    // Oldest first, by publication and not by stamp.
    let got = store.items(svc, n).unwrap();
    assert_eq!(ids(&got), ["a", "b", "c"]);
    assert_eq!(got[0], item(svc, n, "a", 30));

    // Republishing an id replaces it and makes it the newest.
    store.put_item(&item(svc, n, "a", 40), 10).unwrap();
    let got = store.items(svc, n).unwrap();
    assert_eq!(ids(&got), ["b", "c", "a"]);
    assert_eq!(got[2], item(svc, n, "a", 40));
    // Republishing the newest keeps the order.
    store.put_item(&item(svc, n, "a", 41), 10).unwrap();
    assert_eq!(ids(&store.items(svc, n).unwrap()), ["b", "c", "a"]);

    // Same item id on another node or service is another item.
    store.put_item(&item(svc, "other", "a", 1), 10).unwrap();
    store
        .put_item(&item("elsewhere.example", n, "a", 1), 10)
        .unwrap();
    assert_eq!(ids(&store.items(svc, n).unwrap()), ["b", "c", "a"]);

    // Trimming keeps the newest max_items, including the one just put.
    store.put_item(&item(svc, n, "d", 50), 3).unwrap();
    assert_eq!(ids(&store.items(svc, n).unwrap()), ["c", "a", "d"]);
    store.put_item(&item(svc, n, "e", 60), 2).unwrap();
    assert_eq!(ids(&store.items(svc, n).unwrap()), ["d", "e"]);
    // Republishing the oldest at the limit drops nobody else.
    store.put_item(&item(svc, n, "d", 70), 2).unwrap();
    assert_eq!(ids(&store.items(svc, n).unwrap()), ["e", "d"]);
    store.put_item(&item(svc, n, "f", 80), 1).unwrap();
    assert_eq!(ids(&store.items(svc, n).unwrap()), ["f"]);
    store.put_item(&item(svc, n, "g", 90), usize::MAX).unwrap();
    assert_eq!(ids(&store.items(svc, n).unwrap()), ["f", "g"]);
    // max_items 0 keeps nothing.
    store.put_item(&item(svc, n, "h", 100), 0).unwrap();
    assert!(store.items(svc, n).unwrap().is_empty());
    assert_eq!(ids(&store.items(svc, "other").unwrap()), ["a"]);

    // remove_item.
    for id in ["x", "y", "z"] {
        store.put_item(&item(svc, n, id, 1), 10).unwrap();
    }
    assert!(store.remove_item(svc, n, "y").unwrap());
    assert!(!store.remove_item(svc, n, "y").unwrap());
    assert!(!store.remove_item(svc, "other", "x").unwrap());
    assert_eq!(ids(&store.items(svc, n).unwrap()), ["x", "z"]);
    // Empty payload is kept as it is.
    let empty = StoredItem {
        payload: String::new(),
        ..item(svc, n, "empty", 2)
    };
    store.put_item(&empty, 10).unwrap();
    assert_eq!(store.items(svc, n).unwrap()[2], empty);

    // purge_items empties one node only.
    store.purge_items(svc, n).unwrap();
    assert!(store.items(svc, n).unwrap().is_empty());
    assert_eq!(ids(&store.items(svc, "other").unwrap()), ["a"]);
    assert_eq!(ids(&store.items("elsewhere.example", n).unwrap()), ["a"]);
    store.purge_items(svc, n).unwrap();
    store.purge_items(svc, "other").unwrap();
    store.purge_items("elsewhere.example", n).unwrap();
}

fn subscriptions(store: &dyn Store) {
    let (svc, n) = ("pubsub.subs.example", "feed");
    assert!(store.subscriptions(svc, n).unwrap().is_empty());
    assert_eq!(store.remove_subscription(svc, n, "bob@x", None).unwrap(), 0);

    store
        .put_subscription(&subscription(svc, n, "bob@x", "s1", "pending"))
        .unwrap();
    store
        .put_subscription(&subscription(svc, n, "bob@x", "s2", "subscribed"))
        .unwrap();
    store
        .put_subscription(&subscription(svc, n, "carol@x/r", "s1", "subscribed"))
        .unwrap();
    store
        .put_subscription(&subscription(svc, "other", "bob@x", "s1", "subscribed"))
        .unwrap();
    // Same jid and subid replaces.
    store
        .put_subscription(&subscription(svc, n, "bob@x", "s1", "subscribed;opts"))
        .unwrap();
    let got = store.subscriptions(svc, n).unwrap();
    assert!(got.iter().all(|s| s.service == svc && s.node == n));
    assert_eq!(
        sorted_subs(got),
        vec![
            ("bob@x".into(), "s1".into(), "subscribed;opts".into()),
            ("bob@x".into(), "s2".into(), "subscribed".into()),
            ("carol@x/r".into(), "s1".into(), "subscribed".into()),
        ]
    );

    // With a subid: that one only; unknown subid: none.
    assert_eq!(
        store
            .remove_subscription(svc, n, "bob@x", Some("s2"))
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .remove_subscription(svc, n, "bob@x", Some("s9"))
            .unwrap(),
        0
    );
    store
        .put_subscription(&subscription(svc, n, "bob@x", "s3", "subscribed"))
        .unwrap();
    // Without: all of that jid's on this node, not another jid's or node's.
    assert_eq!(store.remove_subscription(svc, n, "bob@x", None).unwrap(), 2);
    assert_eq!(store.remove_subscription(svc, n, "bob@x", None).unwrap(), 0);
    assert_eq!(
        sorted_subs(store.subscriptions(svc, n).unwrap()),
        vec![("carol@x/r".into(), "s1".into(), "subscribed".into())]
    );
    assert_eq!(store.subscriptions(svc, "other").unwrap().len(), 1);
    // A bare and a full JID are different subscribers.
    assert_eq!(
        store.remove_subscription(svc, n, "carol@x", None).unwrap(),
        0
    );

    assert_eq!(
        store
            .remove_subscription(svc, n, "carol@x/r", None)
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .remove_subscription(svc, "other", "bob@x", None)
            .unwrap(),
        1
    );
}

/// Several threads spooling for one account at once: the limit check and
/// the insert are one step, so exactly `limit` stanzas get in, each with
/// its own id, and each sender's session is the one of its last accepted
/// stanza.
fn concurrent_spool(store: &dyn Store) {
    const THREADS: u32 = 4;
    const EACH: u32 = 25;
    const LIMIT: usize = 60;
    let alice = jid("alice@threads.example");
    // Per thread, the result of each spool.
    let results: Vec<Vec<Result<u64, StoreError>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let alice = &alice;
                scope.spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            let sender =
                                session(&format!("threads-{t}"), "bob@threads.example/r", i);
                            let stanza = format!("<m{t}-{i}/>");
                            store.spool(alice, &stanza, i.into(), LIMIT, Some(&sender))
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let all = || results.iter().flatten();
    let mut ids: Vec<u64> = all().filter_map(|r| r.as_ref().ok()).copied().collect();
    assert_eq!(ids.len(), LIMIT);
    assert!(
        all()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, StoreError::Full { limit: LIMIT, .. }))
    );
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), LIMIT, "every id is unique");
    let spooled: Vec<u64> = store
        .spooled(&alice)
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(spooled, ids, "oldest first");

    let sessions = store.sessions().unwrap();
    for (t, results) in (0..THREADS).zip(&results) {
        let id = format!("threads-{t}");
        let stored = sessions.iter().find(|s| s.id == id);
        // The inbound count of the last accepted stanza (a refused one
        // stores nothing).
        let last_ok = (0..EACH).zip(results).rev().find(|(_, r)| r.is_ok());
        assert_eq!(stored.map(|s| s.inbound), last_ok.map(|(i, _)| i), "{id}");
        store.remove_session(&id).unwrap();
    }
    for id in ids {
        store.spool_remove(id).unwrap();
    }
}

/// Writes one of everything (for a durability test: read it back with
/// [`check_sample`] after reopening).
pub(super) fn write_sample(store: &dyn Store) {
    store.set_meta("ca", "-----BEGIN CERTIFICATE-----").unwrap();
    let alice = jid("alice@durable.example");
    store
        .put_account(
            &alice,
            &[
                verifier(ScramHash::Sha512, "pw"),
                verifier(ScramHash::Sha256, "pw"),
            ],
        )
        .unwrap();
    store.put_account(&jid("bob@durable.example"), &[]).unwrap();
    store
        .put_roster(&alice, "<query xmlns='jabber:iq:roster'/>")
        .unwrap();
    let s = session("durable-1", "alice@durable.example/phone", 17);
    let m1 = store.spool(&alice, "<m1/>", 111, 10, Some(&s)).unwrap();
    store.spool(&alice, "<m2/>", 222, 10, None).unwrap();
    store.spool_sent(m1, &s, 3).unwrap();
    store
        .put_node(&StoredNode {
            service: "pubsub.durable.example".into(),
            node: "news".into(),
            config: "<config/>".into(),
        })
        .unwrap();
    for (id, stamp) in [("one", 1), ("two", 2), ("one", 3)] {
        store
            .put_item(&item("pubsub.durable.example", "news", id, stamp), 10)
            .unwrap();
    }
    store
        .put_subscription(&subscription(
            "pubsub.durable.example",
            "news",
            "bob@durable.example",
            "sub-1",
            "subscribed",
        ))
        .unwrap();
}

/// Checks what [`write_sample`] wrote (on a store that held nothing else).
pub(super) fn check_sample(store: &dyn Store) {
    assert_eq!(
        store.meta("ca").unwrap().as_deref(),
        Some("-----BEGIN CERTIFICATE-----")
    );
    let alice = jid("alice@durable.example");
    let verifiers = store.account(&alice).unwrap().unwrap();
    assert_eq!(
        verifiers,
        vec![
            verifier(ScramHash::Sha512, "pw"),
            verifier(ScramHash::Sha256, "pw"),
        ]
    );
    assert!(verifiers.iter().all(|v| v.verify_password("pw")));
    assert_eq!(
        store.account(&jid("bob@durable.example")).unwrap(),
        Some(Vec::new())
    );
    assert_eq!(store.account_count().unwrap(), 2);
    assert_eq!(
        store.rosters().unwrap(),
        vec![(alice.clone(), "<query xmlns='jabber:iq:roster'/>".into())]
    );
    let spooled = store.spooled(&alice).unwrap();
    assert_eq!(spooled.len(), 2);
    assert_eq!(spooled[0].stanza, "<m1/>");
    assert_eq!(spooled[0].stamp_ms, 111);
    assert_eq!(spooled[0].sent, Some(("durable-1".into(), 3)));
    assert_eq!(spooled[1].stanza, "<m2/>");
    assert_eq!(spooled[1].sent, None);
    assert_eq!(
        store.sessions().unwrap(),
        vec![session("durable-1", "alice@durable.example/phone", 17)]
    );
    assert_eq!(
        store.nodes().unwrap(),
        vec![StoredNode {
            service: "pubsub.durable.example".into(),
            node: "news".into(),
            config: "<config/>".into(),
        }]
    );
    assert_eq!(
        store.items("pubsub.durable.example", "news").unwrap(),
        vec![
            item("pubsub.durable.example", "news", "two", 2),
            item("pubsub.durable.example", "news", "one", 3),
        ]
    );
    assert_eq!(
        store
            .subscriptions("pubsub.durable.example", "news")
            .unwrap(),
        vec![subscription(
            "pubsub.durable.example",
            "news",
            "bob@durable.example",
            "sub-1",
            "subscribed",
        )]
    );
}

#[test]
fn memory_store() {
    let store = MemoryStore::new();
    run_all(&store);
    write_sample(&store);
    check_sample(&store);
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_store_in_memory() {
    let store = super::sqlite::SqliteStore::open_in_memory().unwrap();
    run_all(&store);
    write_sample(&store);
    check_sample(&store);
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_store_on_file() {
    let db = TempDb::new("conformance");
    let store = super::sqlite::SqliteStore::open(db.path()).unwrap();
    run_all(&store);
    write_sample(&store);
    check_sample(&store);
}
