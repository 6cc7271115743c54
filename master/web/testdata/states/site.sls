# A state ID and a comment carrying HTML and script: the web view must show
# them as text.
"<script>document.title='pwned'</script>":
  test.succeed_with_changes: []

disk-check:
  test.fail_without_changes:
    - comment: "disk <img src=x onerror=alert(1)> is full"
