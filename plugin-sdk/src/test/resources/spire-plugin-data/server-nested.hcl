"shared_secret" = "s3cret-for-tests"

challenge_size = 48

allowed_nodes = ["node-1", "node-2"]

log_challenges = true

labels {
  rack = "r1"
  zone = "z-9"
}

timeouts "attest" {
  seconds = 5
}