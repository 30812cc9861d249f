//! `--user name|uid[:group|gid]` resolved through the container's /etc/passwd and
//! /etc/group, as Docker (libcontainer's `GetExecUser`) does it.

/// The user a container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: the groups that list the user as a member, when the user
    /// was found in passwd and no group was given.
    pub sgids: Vec<u32>,
    /// The home directory (for `HOME`), `/` when unknown.
    pub home: String,
}

/// A user or group that the files do not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|l| {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            return None;
        }
        let f: Vec<&str> = l.split(':').collect();
        Some(PasswdEntry {
            name: f.first()?,
            uid: f.get(2)?.parse().ok()?,
            gid: f.get(3)?.parse().ok()?,
            home: f.get(5).copied().unwrap_or(""),
        })
    })
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter_map(|l| {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            return None;
        }
        let f: Vec<&str> = l.split(':').collect();
        Some(GroupEntry {
            name: f.first()?,
            gid: f.get(2)?.parse().ok()?,
            members: f
                .get(3)
                .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
        })
    })
}

/// The spec annotation that carries `--group-add` (comma-separated names or gids).
pub const GROUP_ADD_ANNOTATION: &str = "org.tug.group-add";

/// The gid of `--group-add` value `g`: a number as it is, a name through the group file.
pub fn group_id(g: &str, group: &str) -> Result<u32, UserError> {
    if let Ok(n) = g.parse() {
        return Ok(n);
    }
    group_entries(group)
        .find(|e| e.name == g)
        .map(|e| e.gid)
        .ok_or_else(|| UserError::NoGroup(g.to_string()))
}

/// Resolves `spec` (`""` for the default, root) with the contents of passwd and group
/// (empty when the files are missing).
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<ExecUser, UserError> {
    let (user_arg, group_arg) = match spec.split_once(':') {
        Some((u, g)) => (u, g),
        None => (spec, ""),
    };
    let uid_num: Option<u32> = user_arg.parse().ok();
    let found = passwd_entries(passwd).find(|e| match (user_arg, uid_num) {
        ("", _) => e.uid == 0,
        (_, Some(n)) => e.uid == n,
        (name, None) => e.name == name,
    });
    let mut user = ExecUser {
        uid: 0,
        gid: 0,
        sgids: Vec::new(),
        home: "/".into(),
    };
    let matched_name = match &found {
        Some(e) => {
            user.uid = e.uid;
            user.gid = e.gid;
            user.home = if e.home.is_empty() {
                "/".into()
            } else {
                e.home.to_string()
            };
            Some(e.name.to_string())
        }
        None => {
            if !user_arg.is_empty() {
                user.uid = uid_num.ok_or_else(|| UserError::NoUser(user_arg.to_string()))?;
            }
            None
        }
    };
    if !group_arg.is_empty() {
        let gid_num: Option<u32> = group_arg.parse().ok();
        let g = group_entries(group).find(|g| g.name == group_arg || Some(g.gid) == gid_num);
        user.gid = match (g, gid_num) {
            (Some(g), _) => g.gid,
            (None, Some(n)) => n,
            (None, None) => return Err(UserError::NoGroup(group_arg.to_string())),
        };
    } else if let Some(name) = matched_name {
        user.sgids = group_entries(group)
            .filter(|g| g.members.contains(&name.as_str()))
            .map(|g| g.gid)
            .collect();
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
        alice:x:1000:1000:Alice:/home/alice:/bin/sh\n\
        nobody:x:65534:65534:nobody:/home:/bin/false\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:root,alice\nalice:x:1000:\nusers:x:100:alice\n\
        nogroup:x:65534:\n";

    fn r(spec: &str) -> Result<ExecUser, UserError> {
        resolve(spec, PASSWD, GROUP)
    }

    #[test]
    fn default_is_root_with_its_groups() {
        let u = r("").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        assert_eq!(u.sgids, vec![10]);
    }

    #[test]
    fn names_and_uids_find_passwd_entries() {
        let u = r("nobody").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (65534, 65534, "/home"));
        let u = r("1000").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.sgids, vec![10, 100]);
    }

    #[test]
    fn unknown_numeric_ids_are_taken_as_they_are() {
        let u = r("4242:4343").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4242, 4343, "/"));
        assert!(u.sgids.is_empty());
        let u = r("1000:1000").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert!(
            u.sgids.is_empty(),
            "an explicit group sets no supplementary groups"
        );
    }

    #[test]
    fn group_names_resolve_through_group() {
        let u = r("alice:users").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 100));
        assert_eq!(r("nobody:wheel").unwrap().gid, 10);
    }

    #[test]
    fn unknown_names_are_errors() {
        assert_eq!(r("bob"), Err(UserError::NoUser("bob".into())));
        assert_eq!(r("alice:nogrp"), Err(UserError::NoGroup("nogrp".into())));
        assert_eq!(
            r("bob").unwrap_err().to_string(),
            "unable to find user bob: no matching entries in passwd file"
        );
    }

    #[test]
    fn missing_files_allow_numeric_ids_only() {
        assert_eq!(resolve("0", "", "").unwrap().uid, 0);
        assert!(resolve("root", "", "").is_err());
    }
}
