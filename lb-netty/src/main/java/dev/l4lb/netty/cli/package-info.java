/**
 * The {@code lb} command line: one picocli command per use (run, demo, kube, list, check, echo
 * server) and what they share (options, exit codes, reports). Belongs here: parsing arguments and
 * starting the right parts; no data-plane logic.
 */
package dev.l4lb.netty.cli;
