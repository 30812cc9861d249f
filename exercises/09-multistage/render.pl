#!/usr/bin/perl
# Renders the release notes (content.txt) as a web page: the first line, "# title", is the
# title; every other non-empty line is a list item. Needs perl, which Debian has and
# busybox does not.
use strict;
use warnings;
my ($title, @items);
while (my $line = <>) {
    chomp $line;
    next if $line eq '';
    if (!defined $title && $line =~ /^#\s*(.*)/) { $title = $1; next; }
    $line =~ s/&/&amp;/g; $line =~ s/</&lt;/g; $line =~ s/>/&gt;/g;
    push @items, "<li>$line</li>";
}
$title //= 'untitled';
print "<!doctype html>\n<title>$title</title>\n<h1>$title</h1>\n<ul>\n";
print "$_\n" for @items;
print "</ul>\n";
