//! Every network namespace on the machine, and what owns each: the named
//! ones under `/run/netns` (as `ip netns add` makes them) and every distinct
//! `/proc/PID/ns/net`, told apart by the device and inode of their nsfs
//! file; and the thread that enters one to audit it.
//!
//! Owners are read from `/proc/PID/cgroup`, by the conventions of the
//! runtimes that name their cgroups after the container:
//! - containerd under Kubernetes: `…/kubepods-<qos>-pod<UID>.slice/cri-containerd-<ID>.scope`
//!   (systemd driver) or `/kubepods/<qos>/pod<UID>/<ID>` (cgroupfs driver);
//! - CRI-O: `…/kubepods-<qos>-pod<UID>.slice/crio-<ID>.scope` (and `crio-conmon-<ID>.scope`);
//! - Docker: `/system.slice/docker-<ID>.scope` or `/docker/<ID>`.
//!
//! The pod's UID comes from the cgroup path; its namespace and name are not
//! in it, so they are read from the runtime's own record of the container
//! on the host (containerd's and CRI-O's OCI bundle annotations, Docker's
//! container name as the kubelet's dockershim made it), never from inside
//! the container. Anything else (a process in a plain `unshare -n`, a
//! systemd service with `PrivateNetwork=`) is labelled by its first
//! process's pid and command name.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// What owns a network namespace, as far as it can be told.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// `containerd`, `cri-o` or `docker`, when a cgroup path names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// The container's id (64 hex digits) from the cgroup path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,
}

/// One network namespace found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Namespace {
    pub dev: u64,
    pub inode: u64,
    /// Whether it is tcptune's own (the host's, unless run inside a container).
    pub host: bool,
    /// Its names under `/run/netns`.
    pub names: Vec<String>,
    /// Processes in it, lowest first (at most [`MAX_PIDS`]).
    pub pids: Vec<u32>,
    /// Processes in it in all.
    pub process_count: usize,
    /// The first process's command name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
    pub owner: Owner,
    /// The nsfs file entered to audit it.
    #[serde(skip)]
    pub path: PathBuf,
}

impl Namespace {
    /// A short name for people and for the `netns` label: its first name
    /// under /run/netns, else `net:[INODE]`.
    pub fn label(&self) -> String {
        self.names
            .first()
            .cloned()
            .unwrap_or_else(|| format!("net:[{}]", self.inode))
    }

    /// `NAMESPACE/NAME` of its pod, when known.
    pub fn pod(&self) -> Option<String> {
        match (&self.owner.pod_namespace, &self.owner.pod_name) {
            (Some(namespace), Some(name)) => Some(format!("{namespace}/{name}")),
            (None, Some(name)) => Some(name.clone()),
            _ => None,
        }
    }
}

/// Processes listed per namespace.
pub const MAX_PIDS: usize = 16;

/// Parses one `/proc/PID/cgroup` text into what it says of the owner.
pub fn owner_from_cgroup(text: &str) -> Owner {
    let mut owner = Owner::default();
    for line in text.lines() {
        // hierarchy-ID:controllers:path; the path may itself hold colons.
        let Some(path) = line.splitn(3, ':').nth(2) else {
            continue;
        };
        for component in path.split('/') {
            if let Some(uid) = pod_uid(component) {
                owner.pod_uid.get_or_insert(uid);
            }
            if let Some((runtime, id)) = container(component)
                && owner.container_id.is_none()
            {
                owner.runtime = Some(runtime.to_owned());
                owner.container_id = Some(id);
            }
        }
        // cgroupfs driver: /kubepods/<qos>/pod<UID>/<ID>; the runtime is
        // not named there.
        if owner.container_id.is_none()
            && owner.pod_uid.is_some()
            && let Some(last) = path.rsplit('/').next().filter(|last| is_container_id(last))
        {
            owner.container_id = Some(last.to_owned());
        }
    }
    owner
}

fn is_container_id(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// `kubepods-burstable-pod<UID>.slice` (UID with `_` for `-`) or `pod<UID>`.
fn pod_uid(component: &str) -> Option<String> {
    let stem = component.strip_suffix(".slice").unwrap_or(component);
    let at = stem.rfind("pod")?;
    if at > 0 && !stem[..at].ends_with('-') {
        return None;
    }
    let uid = stem[at + 3..].replace('_', "-");
    let valid = uid.len() == 36
        && uid
            .bytes()
            .all(|byte| byte.is_ascii_hexdigit() || byte == b'-');
    valid.then_some(uid)
}

/// `cri-containerd-<ID>.scope`, `crio-<ID>.scope`, `docker-<ID>.scope`, or
/// a bare id under `/docker/`.
fn container(component: &str) -> Option<(&'static str, String)> {
    let stem = component.strip_suffix(".scope").unwrap_or(component);
    for (prefix, runtime) in [
        ("cri-containerd-", "containerd"),
        ("crio-conmon-", "cri-o"),
        ("crio-", "cri-o"),
        ("docker-", "docker"),
    ] {
        if let Some(id) = stem.strip_prefix(prefix).filter(|id| is_container_id(id)) {
            return Some((runtime, id.to_owned()));
        }
    }
    None
}

fn docker_cgroupfs(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let path = line.splitn(3, ':').nth(2)?;
        let mut parts = path.rsplit('/');
        let id = parts.next()?;
        (parts.next()? == "docker" && is_container_id(id)).then(|| id.to_owned())
    })
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path)
        .ok()
        .map(|meta| (meta.dev(), meta.ino()))
}

/// Finds every network namespace: those named under `run_netns` and those
/// of the processes under `proc`. Processes that vanish or cannot be read
/// while listing are passed over (they are counted in the second value).
pub fn discover(proc: &Path, run_netns: &Path) -> Result<(Vec<Namespace>, usize)> {
    let own = identity(Path::new("/proc/thread-self/ns/net"));
    let mut found: BTreeMap<(u64, u64), Namespace> = BTreeMap::new();
    let mut unreadable = 0;
    let new = |(dev, inode): (u64, u64), path: PathBuf| Namespace {
        dev,
        inode,
        host: Some((dev, inode)) == own,
        names: Vec::new(),
        pids: Vec::new(),
        process_count: 0,
        comm: None,
        owner: Owner::default(),
        path,
    };
    if let Ok(entries) = std::fs::read_dir(run_netns) {
        let mut named: Vec<(String, PathBuf)> = entries
            .filter_map(|entry| entry.ok())
            .map(|entry| {
                (
                    entry.file_name().to_string_lossy().into_owned(),
                    entry.path(),
                )
            })
            .collect();
        named.sort();
        for (name, path) in named {
            // A name whose namespace is gone (or an unmounted file) is no
            // namespace: nsfs files live on device of the nsfs mount.
            let Some(id) = identity(&path) else {
                unreadable += 1;
                continue;
            };
            found
                .entry(id)
                .or_insert_with(|| new(id, path.clone()))
                .names
                .push(name);
        }
    }
    let entries = std::fs::read_dir(proc).map_err(|source| Error::Read {
        path: proc.to_owned(),
        source,
    })?;
    let mut pids: Vec<u32> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let path = proc.join(pid.to_string()).join("ns/net");
        let Some(id) = identity(&path) else {
            unreadable += 1;
            continue;
        };
        let namespace = found.entry(id).or_insert_with(|| new(id, path.clone()));
        namespace.process_count += 1;
        if namespace.pids.len() < MAX_PIDS {
            namespace.pids.push(pid);
        }
    }
    for namespace in found.values_mut() {
        label(proc, namespace);
    }
    let mut namespaces: Vec<Namespace> = found.into_values().collect();
    // The host first, then named ones, then by inode.
    namespaces
        .sort_by_key(|namespace| (!namespace.host, namespace.names.is_empty(), namespace.inode));
    Ok((namespaces, unreadable))
}

/// Largest file read to label a namespace (a runtime's config.json is a
/// few tens of KiB).
const LABEL_FILE_MAX: u64 = 4 * 1024 * 1024;

/// Fills in the owner from the namespace's processes: their cgroup paths,
/// then the container runtime's own record of the container for the pod's
/// namespace and name. Every file is read through `input` (bounded,
/// regular files only, never blocking), and nothing is read from inside a
/// container's file system, whose contents its owner controls.
fn label(proc: &Path, namespace: &mut Namespace) {
    let read =
        |path: &Path| crate::input::read(path, LABEL_FILE_MAX, crate::input::Links::Follow).ok();
    let of_pid = |pid: u32, file: &str| read(&proc.join(pid.to_string()).join(file));
    if let Some(first) = namespace.pids.first() {
        namespace.comm = of_pid(*first, "comm")
            .map(|bytes| String::from_utf8_lossy(&bytes).trim_end().to_owned());
    }
    for pid in namespace.pids.clone() {
        let Some(bytes) = of_pid(pid, "cgroup") else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let mut owner = owner_from_cgroup(&text);
        if owner.container_id.is_none()
            && let Some(id) = docker_cgroupfs(&text)
        {
            owner.runtime = Some("docker".into());
            owner.container_id = Some(id);
        }
        if let Some(id) = owner.container_id.clone() {
            for (runtime, path) in runtime_records(&id) {
                if owner
                    .runtime
                    .as_deref()
                    .is_some_and(|known| known != runtime)
                {
                    continue;
                }
                let Some(pod) = read(&path).and_then(|bytes| pod_from_record(runtime, &bytes))
                else {
                    continue;
                };
                owner.runtime = Some(runtime.to_owned());
                owner.pod_namespace = pod.namespace;
                owner.pod_name = pod.name;
                owner.pod_uid = pod.uid.or(owner.pod_uid);
                break;
            }
        }
        let better = owner.container_id.is_some() && namespace.owner.container_id.is_none()
            || owner.pod_name.is_some() && namespace.owner.pod_name.is_none();
        if better {
            namespace.owner = owner;
        }
        if namespace.owner.pod_name.is_some() {
            break;
        }
    }
}

/// Where each runtime keeps its record of a container, on the host.
fn runtime_records(id: &str) -> [(&'static str, PathBuf); 3] {
    [
        (
            "containerd",
            PathBuf::from(format!(
                "/run/containerd/io.containerd.runtime.v2.task/k8s.io/{id}/config.json"
            )),
        ),
        (
            "cri-o",
            PathBuf::from(format!(
                "/run/containers/storage/overlay-containers/{id}/userdata/config.json"
            )),
        ),
        (
            "docker",
            PathBuf::from(format!("/var/lib/docker/containers/{id}/config.v2.json")),
        ),
    ]
}

/// A pod as a runtime's record names it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Pod {
    namespace: Option<String>,
    name: Option<String>,
    uid: Option<String>,
}

/// The pod from a runtime's record of a container: containerd's OCI
/// bundle annotations (`io.kubernetes.cri.sandbox-namespace`, `-name`,
/// `-uid`), CRI-O's (`io.kubernetes.pod.namespace`, `.name`, `.uid`), or
/// Docker's container name as the kubelet's dockershim made it
/// (`/k8s_CONTAINER_POD_NAMESPACE_UID_ATTEMPT`).
fn pod_from_record(runtime: &str, bytes: &[u8]) -> Option<Pod> {
    let record: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let text = |value: &serde_json::Value| value.as_str().map(str::to_owned);
    let pod = match runtime {
        "containerd" => {
            let annotations = &record["annotations"];
            Pod {
                namespace: text(&annotations["io.kubernetes.cri.sandbox-namespace"]),
                name: text(&annotations["io.kubernetes.cri.sandbox-name"]),
                uid: text(&annotations["io.kubernetes.cri.sandbox-uid"]),
            }
        }
        "cri-o" => {
            let annotations = &record["annotations"];
            Pod {
                namespace: text(&annotations["io.kubernetes.pod.namespace"]),
                name: text(&annotations["io.kubernetes.pod.name"]),
                uid: text(&annotations["io.kubernetes.pod.uid"]),
            }
        }
        _ => {
            let name = record["Name"].as_str()?.trim_start_matches('/');
            let parts: Vec<&str> = name.strip_prefix("k8s_")?.split('_').collect();
            match parts.as_slice() {
                [_container, pod, namespace, uid, _attempt] => Pod {
                    namespace: Some((*namespace).to_owned()),
                    name: Some((*pod).to_owned()),
                    uid: Some((*uid).to_owned()),
                },
                _ => return None,
            }
        }
    };
    (pod.name.is_some()).then_some(pod)
}

/// Whether entering a namespace failed because it is gone: its last
/// process exited between listing and entering (the file is gone, or no
/// longer a namespace).
pub fn vanished(error: &Error) -> bool {
    matches!(
        error,
        Error::Read { source, .. } if matches!(
            source.raw_os_error(),
            Some(nix::libc::ENOENT | nix::libc::ESRCH | nix::libc::EINVAL)
        )
    )
}

/// Runs `work` for every namespace, tcptune's own on a worker as it is and
/// each other one on a thread that entered it (see [`on_thread_in`]), on a
/// few workers at once: most of an audit is waiting on the kernel. The
/// results come back in the order of `found`.
pub fn audit_each<T: Send>(
    found: &[Namespace],
    work: impl Fn(&Namespace) -> Result<T> + Sync,
) -> Vec<Result<T>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let workers = std::thread::available_parallelism()
        .map_or(2, |cores| cores.get() * 2)
        .clamp(2, 8)
        .min(found.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<T>>>> = found.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let (Some(namespace), Some(slot)) = (found.get(index), results.get(index))
                    else {
                        break;
                    };
                    let result = if namespace.host {
                        work(namespace)
                    } else {
                        on_thread_in(&namespace.path, || work(namespace))
                    };
                    if let Ok(mut slot) = slot.lock() {
                        *slot = Some(result);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .zip(found)
        .map(|(slot, namespace)| {
            slot.into_inner().ok().flatten().unwrap_or_else(|| {
                Err(Error::Failed(format!(
                    "the audit of {} stopped unexpectedly",
                    namespace.label()
                )))
            })
        })
        .collect()
}

/// Runs `work` on a new thread that first entered the namespace at `path`:
/// setns(2) moves only the calling thread, so the rest of tcptune stays
/// where it is. Netlink sockets and `/proc/thread-self/net` opened by
/// `work` see that namespace.
pub fn on_thread_in<T: Send>(path: &Path, work: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let file = std::fs::File::open(path).map_err(|source| Error::Read {
                    path: path.to_owned(),
                    source,
                })?;
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).map_err(
                    |errno| Error::Read {
                        path: path.to_owned(),
                        source: std::io::Error::from(errno),
                    },
                )?;
                work()
            })
            .join()
            .unwrap_or_else(|_| {
                Err(Error::Failed(format!(
                    "the audit of {} stopped unexpectedly",
                    path.display()
                )))
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4a5f0c7d3e2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f";

    #[test]
    fn containerd_with_the_systemd_driver() {
        let line = format!(
            "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/cri-containerd-{ID}.scope\n"
        );
        let owner = owner_from_cgroup(&line);
        assert_eq!(owner.runtime.as_deref(), Some("containerd"));
        assert_eq!(owner.container_id.as_deref(), Some(ID));
        assert_eq!(
            owner.pod_uid.as_deref(),
            Some("1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901")
        );
    }

    #[test]
    fn cri_o_with_the_systemd_driver() {
        let line = format!(
            "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0a1b2c3d_4e5f_6071_8293_a4b5c6d7e8f9.slice/crio-{ID}.scope"
        );
        let owner = owner_from_cgroup(&line);
        assert_eq!(owner.runtime.as_deref(), Some("cri-o"));
        assert_eq!(owner.container_id.as_deref(), Some(ID));
        assert_eq!(
            owner.pod_uid.as_deref(),
            Some("0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9")
        );
    }

    #[test]
    fn the_cgroupfs_driver_names_pod_and_container_without_the_runtime() {
        let text = format!(
            "12:memory:/kubepods/burstable/pod1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901/{ID}\n0::/\n"
        );
        let owner = owner_from_cgroup(&text);
        assert_eq!(owner.runtime, None);
        assert_eq!(owner.container_id.as_deref(), Some(ID));
        assert_eq!(
            owner.pod_uid.as_deref(),
            Some("1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901")
        );
    }

    #[test]
    fn docker_scopes_and_cgroupfs_paths() {
        let owner = owner_from_cgroup(&format!("0::/system.slice/docker-{ID}.scope\n"));
        assert_eq!(owner.runtime.as_deref(), Some("docker"));
        assert_eq!(owner.container_id.as_deref(), Some(ID));
        assert_eq!(owner.pod_uid, None);
        assert_eq!(
            docker_cgroupfs(&format!("4:cpu,cpuacct:/docker/{ID}\n")).as_deref(),
            Some(ID)
        );
    }

    #[test]
    fn pods_from_each_runtime_record() {
        let containerd = br#"{"ociVersion":"1.1.0","annotations":{"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-name":"web-7d4b9c-x2k4p","io.kubernetes.cri.sandbox-namespace":"shop","io.kubernetes.cri.sandbox-uid":"1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"}}"#;
        assert_eq!(
            pod_from_record("containerd", containerd),
            Some(Pod {
                namespace: Some("shop".into()),
                name: Some("web-7d4b9c-x2k4p".into()),
                uid: Some("1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901".into()),
            })
        );
        let crio = br#"{"annotations":{"io.kubernetes.pod.namespace":"kube-system","io.kubernetes.pod.name":"coredns-5d78c9869d-abcde","io.kubernetes.pod.uid":"0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"}}"#;
        let pod = pod_from_record("cri-o", crio).expect("cri-o pod");
        assert_eq!(pod.namespace.as_deref(), Some("kube-system"));
        assert_eq!(pod.name.as_deref(), Some("coredns-5d78c9869d-abcde"));
        let docker =
            br#"{"Name":"/k8s_POD_api-0_payments_9f8e7d6c-5b4a-3928-1706-f5e4d3c2b1a0_0"}"#;
        let pod = pod_from_record("docker", docker).expect("docker pod");
        assert_eq!(pod.namespace.as_deref(), Some("payments"));
        assert_eq!(pod.name.as_deref(), Some("api-0"));
        // A plain Docker container is no pod; a record without a pod name
        // says nothing.
        assert_eq!(pod_from_record("docker", br#"{"Name":"/nginx"}"#), None);
        assert_eq!(
            pod_from_record("containerd", br#"{"annotations":{}}"#),
            None
        );
        assert_eq!(pod_from_record("cri-o", b"not json"), None);
    }

    #[test]
    fn ordinary_services_and_sessions_have_no_owner() {
        for text in [
            "0::/system.slice/sshd.service\n",
            "0::/user.slice/user-0.slice/session-3.scope\n",
            "0::/\n",
            "garbage without colons\n",
            "0::/kubepods.slice/notapod.slice\n",
        ] {
            assert_eq!(owner_from_cgroup(text), Owner::default(), "{text}");
        }
    }
}
