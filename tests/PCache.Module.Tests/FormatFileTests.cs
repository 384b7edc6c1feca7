using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace PCache.Module.Tests;

/// <summary>
/// PCache.format.ps1xml: well-formed, one table view (first, so the default) and one list view
/// per output type, and every property or static helper a view names exists: a rename in C#
/// would otherwise blank a column silently.
/// </summary>
public sealed partial class FormatFileTests
{
    private static readonly XDocument Format = XDocument.Load(Repo.PathOf("PCache.format.ps1xml"));

    private static IEnumerable<XElement> Views => Format.Root!.Element("ViewDefinitions")!.Elements("View");

    private static HashSet<Type> OutputTypes =>
        CmdletMetadata.All.SelectMany(c => c.OutputTypes).Select(o => o.Type).Where(t => t.Namespace == "PCache").ToHashSet();

    private static Type TypeOf(XElement view) =>
        typeof(Cache).Assembly.GetType(view.Element("ViewSelectedBy")!.Element("TypeName")!.Value)
        ?? throw new Xunit.Sdk.XunitException($"view {view.Element("Name")!.Value} names a type PCache.Core does not define");

    [Fact]
    public void EveryViewIsForAnOutputTypeAndEveryOutputTypeHasATableThenAListView()
    {
        var byType = Views.GroupBy(TypeOf).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(OutputTypes.OrderBy(t => t.FullName), byType.Keys.OrderBy(t => t.FullName));
        foreach (var (type, views) in byType)
        {
            Assert.True(views[0].Element("TableControl") is not null, $"{type}: the first view must be the table");
            Assert.Contains(views, v => v.Element("ListControl") is not null);
        }
        // View names are unique per type (Format-Table -View Wide picks the type's own Wide view).
        Assert.Equal(Views.Count(), Views.Select(v => (TypeOf(v), v.Element("Name")!.Value)).Distinct().Count());
        // The daemon answers with PCache.DaemonInfo from Start-PCacheDaemon too (PCache.psm1).
        Assert.Contains(typeof(DaemonInfo), byType.Keys);
    }

    [Fact]
    public void TablesHaveAHeaderPerColumn()
    {
        foreach (var table in Views.Select(v => v.Element("TableControl")).OfType<XElement>())
        {
            int headers = table.Element("TableHeaders")!.Elements("TableColumnHeader").Count();
            foreach (var row in table.Descendants("TableColumnItems"))
                Assert.Equal(headers, row.Elements("TableColumnItem").Count());
            Assert.All(table.Descendants("Label"), l => Assert.False(string.IsNullOrWhiteSpace(l.Value)));
        }
    }

    [Fact]
    public void EveryPropertyAViewNamesExists()
    {
        foreach (var view in Views)
        {
            var type = TypeOf(view);
            var names = view.Descendants("PropertyName").Select(p => p.Value)
                .Concat(view.Descendants("ScriptBlock").SelectMany(s => PropertyReference().Matches(s.Value).Select(m => m.Groups[1].Value)));
            foreach (var name in names)
                Assert.True(type.GetProperty(name, BindingFlags.Public | BindingFlags.Instance) is not null, $"{type.FullName} has no property {name}");
        }
    }

    [Fact]
    public void ScriptBlocksCallOnlyHelpersThatExist()
    {
        var blocks = Views.SelectMany(v => v.Descendants("ScriptBlock")).Select(s => s.Value).ToList();
        Assert.NotEmpty(blocks);
        foreach (Match m in blocks.SelectMany(b => StaticCall().Matches(b)))
        {
            string typeName = m.Groups[1].Value, method = m.Groups[2].Value;
            if (typeName is "math" or "timespan") continue;
            var type = typeof(PCache.Core.Units).Assembly.GetType(typeName) ?? throw new Xunit.Sdk.XunitException($"no type {typeName}");
            Assert.True(type.GetMethod(method, BindingFlags.Public | BindingFlags.Static) is not null, $"{typeName} has no public static {method}");
        }
    }

    [Fact]
    public void FriendlyUnitsAreOnlyInTheLabels()
    {
        // Byte columns divide by 1MB/1GB and say so in the label.
        foreach (var table in Views.Select(v => v.Element("TableControl")).OfType<XElement>())
        {
            var labels = table.Element("TableHeaders")!.Elements("TableColumnHeader").Select(h => h.Element("Label")!.Value).ToList();
            var items = table.Descendants("TableColumnItem").ToList();
            for (int i = 0; i < items.Count; i++)
            {
                string? script = items[i].Element("ScriptBlock")?.Value;
                if (script is null) continue;
                if (script.Contains("/ 1MB", StringComparison.Ordinal)) Assert.Contains("MiB", labels[i]);
                if (script.Contains("/ 1GB", StringComparison.Ordinal)) Assert.Contains("GiB", labels[i]);
                if (script.Contains("* 100", StringComparison.Ordinal)) Assert.Contains("%", labels[i]);
            }
        }
    }

    [GeneratedRegex(@"\$_\.(\w+)")]
    private static partial Regex PropertyReference();

    [GeneratedRegex(@"\[([\w.]+)\]::(\w+)")]
    private static partial Regex StaticCall();
}
