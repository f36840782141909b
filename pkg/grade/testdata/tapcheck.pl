#!/usr/bin/perl
# Parses TAP from stdin with Perl's TAP::Parser (core Perl) and prints
# "plan=N tests=N passed=N failed=N errors=N"; exits 1 on parse errors.
use strict; use warnings; use TAP::Parser;
my $tap = do { local $/; <STDIN> };
my $p = TAP::Parser->new({ tap => $tap });
while (my $r = $p->next) { }
my @errors = $p->parse_errors;
printf "plan=%s tests=%d passed=%d failed=%d errors=%d version=%d\n",
  $p->plan, $p->tests_run, scalar($p->passed), scalar($p->failed), scalar(@errors), $p->version;
print STDERR "$_\n" for @errors;
exit(@errors ? 1 : 0);
