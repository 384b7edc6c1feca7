using System.Text;
using PCache.HelpGen;

// HelpGen DOCS_DIR OUT_DIR: every cmdlet doc in DOCS_DIR into OUT_DIR/PCache.dll-Help.xml, every
// about topic into OUT_DIR/<name>.help.txt. Exit 1 with file:line on the first schema violation.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: HelpGen DOCS_DIR OUT_DIR");
    return 2;
}
try
{
    var written = HelpBuilder.Build(args[0], args[1]);
    foreach (var f in written) Console.WriteLine($"help: {f}");
    return 0;
}
catch (HelpFormatException e)
{
    Console.Error.WriteLine($"HelpGen: {e.Message}");
    return 1;
}

namespace PCache.HelpGen
{
    /// <summary>The generator as a library, so tests build the same files the build stages.</summary>
    public static class HelpBuilder
    {
        public const string MamlFileName = "PCache.dll-Help.xml";

        public static IReadOnlyList<CommandHelp> ReadCommands(string docsDir) =>
            Directory.GetFiles(docsDir, "*.md").Order(StringComparer.Ordinal)
                .Select(f => (File: f, Text: File.ReadAllText(f)))
                .Where(d => MarkdownHelpReader.IsCommandHelp(d.Text))
                .Select(d => MarkdownHelpReader.ReadCommand(d.Text, Path.GetFileName(d.File)))
                .ToList();

        public static IReadOnlyList<AboutTopic> ReadAboutTopics(string docsDir) =>
            Directory.GetFiles(docsDir, "about_*.md").Order(StringComparer.Ordinal)
                .Select(f => MarkdownHelpReader.ReadAbout(File.ReadAllText(f), Path.GetFileName(f)))
                .ToList();

        /// <summary>Write the help files; the paths written.</summary>
        public static IReadOnlyList<string> Build(string docsDir, string outDir)
        {
            var commands = ReadCommands(docsDir);
            if (commands.Count == 0) throw new HelpFormatException($"{docsDir}: no cmdlet help (files with 'document type: cmdlet')");
            // Get-Help -Full shows NOTES; an empty section there reads as unfinished help.
            foreach (var c in commands.Where(c => c.Notes.Count == 0))
                throw new HelpFormatException($"{c.SourceFile}: the NOTES section is empty");
            Directory.CreateDirectory(outDir);
            var written = new List<string>();
            string maml = Path.Combine(outDir, MamlFileName);
            using (var stream = File.Create(maml))
                MamlWriter.Write(commands).Save(stream);
            written.Add(maml);
            foreach (var topic in ReadAboutTopics(docsDir))
            {
                string path = Path.Combine(outDir, topic.Name + ".help.txt");
                // UTF-8 with a BOM, as PowerShell's own about topics are.
                File.WriteAllText(path, AboutTopicWriter.Write(topic), new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
                written.Add(path);
            }
            return written;
        }
    }
}
