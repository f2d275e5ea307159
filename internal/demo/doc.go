// Package demo runs airgate's one-command demo (`airgate demo`): in one
// process and with no setup, the embedded Microsoft Entra ID emulator with
// its demo tenant (package idp), an Airflow double speaking Airflow 2's
// /api/v1 or Airflow 3's /api/v2 (package airflowsim), and the gateway in
// front of it under the demo policy (package server).
//
// [Start] writes everything a newcomer or an operator command needs into
// the demo's directory: a complete airgate configuration (airgate.yaml,
// loadable by config.Load and usable with every --config command while the
// demo runs), the policy (policy.yaml), secrets in 0600 files, the
// emulator's ready file (idp.json, for `airgate idp token --ready-file`),
// the audit database and the public keys that verify its checkpoints.
// [Examples] are the copy-paste commands the demo prints, each with the
// answer it must get; the end-to-end tests run them as printed.
//
// The demo is for development and evaluation only: it runs in dev mode
// with plain-http addresses, the emulator's well-known passwords, and a
// request log on the Airflow double's port (/-/requests) that a real
// Airflow does not have.
package demo
