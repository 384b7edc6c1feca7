Console.WriteLine("benchmarks arrive with the engine");
