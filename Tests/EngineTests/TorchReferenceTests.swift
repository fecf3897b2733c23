import XCTest
@testable import Engine
import TrainingTypes

/// The CNN against PyTorch: `Tests/Fixtures/torch_cnn_reference.py` rebuilt the engine's network
/// with torch.nn (3 x 20 x 20 inputs, conv widths 4, 5, 6, hidden 7: an im2col layer, a Winograd
/// layer after it and another after that), set every parameter from the same formula, and
/// computed in float64 the logits, the mean cross-entropy, its gradient and two SGD steps (lr 0.01,
/// momentum 0.9, weight decay 5e-4, with and without Nesterov) on one fixed batch. Its printed
/// numbers are below (the script's header says how to regenerate them); this test runs no Python.
///
/// Tolerances are for the engine's float32 against float64, about 5x the largest errors measured
/// (given next to each); the network is at least 1.9e-5 from any ReLU or pooling kink in every
/// forward pass (printed by the script), far more than the ~1e-6 float32 error of an activation,
/// so both take the same branches.
final class TorchReferenceTests: XCTestCase {
    override func setUp() { BLAS.setThreads(1) }

    static let spec = ModelSpec(kind: .cnn, conv: [4, 5, 6], hidden: [7], channels: 3, side: 20, classes: 10)
    static let batch = 4
    static let labels: [UInt8] = [3, 0, 9, 5]

    /// The script's batch: pixel i (image-major bytes) is ((i · 2654435761) mod 2³²) >> 24.
    static let images: [UInt8] = (0..<(batch * spec.pixels)).map { UInt8((($0 * 2654435761) % (1 << 32)) >> 24) }

    /// The CNN with the script's parameters: tensor k of the flat vector (each layer's weights,
    /// then its biases), entry j: 3 · ((j · 7919 + k · 3571) mod 199 − 99) / 99 / √fan_in.
    func makeModel() -> CNN {
        let model = CNN(spec: Self.spec, maxBatch: Self.batch, seed: 0)
        var tensors: [(offset: Int, count: Int, fanIn: Int)] = []
        for (l, s) in model.convShapes.enumerated() {
            tensors.append((model.convWeightOffsets[l], s.weightCount, s.patch))
            tensors.append((model.convWeightOffsets[l] + s.weightCount, s.outChannels, s.patch))
        }
        for l in 0..<model.dense.layerCount {
            let sizes = model.dense.sizes
            tensors.append((model.dense.weightOffsets[l], sizes[l] * sizes[l + 1], sizes[l]))
            tensors.append((model.dense.biasOffsets[l], sizes[l + 1], sizes[l]))
        }
        XCTAssertEqual(tensors.reduce(0) { $0 + $1.count }, model.parameterCount)
        for (k, t) in tensors.enumerated() {
            for j in 0..<t.count {
                let numerator = 3 * ((j * 7919 + k * 3571) % 199 - 99)
                model.params[t.offset + j] = Float(Double(numerator) / 99 / Double(t.fanIn).squareRoot())
            }
        }
        return model
    }

    /// Loads the batch and runs forward: the logits (as Doubles) and the model's mean loss;
    /// the logits buffer then holds the probabilities, ready for `SoftmaxCrossEntropy.backward`.
    func forward(_ model: CNN) -> (logits: [Double], loss: Double) {
        Self.images.withUnsafeBufferPointer { im in
            Self.labels.withUnsafeBufferPointer { lb in
                model.loadBatch(images: im.baseAddress!, labels: lb.baseAddress!, indices: nil, start: 0, count: Self.batch)
            }
        }
        let out = model.forward(batch: Self.batch)
        let logits = (0..<(Self.batch * 10)).map { Double(out[$0]) }
        let loss = SoftmaxCrossEntropy.forward(out, labels: model.labels, batch: Self.batch, classes: 10).lossSum
        return (logits, loss / Double(Self.batch))
    }

    func assertClose(_ actual: [Double], _ expected: [Double], within tolerance: Double, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
        let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tolerance, what, file: file, line: line)
    }

    func testForwardAndGradientMatchPyTorch() {
        let model = makeModel()
        XCTAssertEqual(model.parameterCount, Reference.parameterCount)
        XCTAssertEqual(model.winograd.map { $0 != nil }, [false, true, true], "Winograd for the 2nd and 3rd convolutions")
        let (logits, loss) = forward(model)
        // Measured: logits within 3.3e-6, loss 2.5e-7, gradient 1.7e-6.
        assertClose(logits, Reference.logits, within: 2e-5, "logits")
        XCTAssertEqual(loss, Reference.loss, accuracy: 2e-6)
        SoftmaxCrossEntropy.backward(model.linearOut.last!, labels: model.labels, batch: Self.batch, classes: 10)
        model.backward(batch: Self.batch, optimizer: nil, lr: 0)
        assertClose(Reference.sample.map { Double(model.grads[$0]) }, Reference.gradient, within: 1e-5, "gradient")
        // The reference is not degenerate: the images get different logits, the sample has gradients.
        let row0 = Array(Reference.logits[0..<10])
        XCTAssertGreaterThan(zip(Reference.logits[10..<20], row0).map { abs($0 - $1) }.max()!, 0.1)
        XCTAssertGreaterThan(Reference.gradient.filter { abs($0) > 1e-2 }.count, Reference.gradient.count / 2)
    }

    /// Two steps on the same batch: the first starts the momentum buffer at the gradient, the
    /// second uses it (the engine's fused path, the gradient accumulated straight into the
    /// momentum buffer, without Nesterov; its separate update pass with Nesterov).
    func testTwoSGDStepsMatchPyTorch() {
        for nesterov in [false, true] {
            let model = makeModel()
            let optimizer = Optimizer(kind: .sgd, count: model.parameterCount, momentum: 0.9, nesterov: nesterov,
                                      weightDecay: 5e-4)
            XCTAssertEqual(optimizer.accumulatesIntoMomentum, !nesterov)
            let name = nesterov ? "Nesterov" : "SGD"
            let expected = nesterov
                ? (Reference.nesterovLosses, Reference.nesterovAfterStep1, Reference.nesterovAfterStep2, Reference.nesterovFinalLogits)
                : (Reference.sgdLosses, Reference.sgdAfterStep1, Reference.sgdAfterStep2, Reference.sgdFinalLogits)
            // Measured: parameters within 4.5e-8 (a step moves them by ~1e-3, weight decay alone
            // by up to 3e-6: without it the test fails), losses 3.4e-7, logits after two steps 4.7e-6.
            var losses: [Double] = []
            for step in 0..<2 {
                let (_, loss) = forward(model)
                losses.append(loss)
                SoftmaxCrossEntropy.backward(model.linearOut.last!, labels: model.labels, batch: Self.batch, classes: 10)
                model.backward(batch: Self.batch, optimizer: optimizer, lr: 0.01)
                assertClose(Reference.sample.map { Double(model.params[$0]) }, step == 0 ? expected.1 : expected.2,
                            within: 2e-7, "\(name) parameters after step \(step + 1)")
            }
            assertClose(losses, expected.0, within: 2e-6, "\(name) losses")
            assertClose(forward(model).logits, expected.3, within: 2e-5, "\(name) logits after two steps")
            // Still a live network after the steps (the images' logits differ).
            XCTAssertGreaterThan(zip(expected.3[10..<20], expected.3[0..<10]).map { abs($0 - $1) }.max()!, 0.1)
        }
    }
}

/// Printed by `Tests/Fixtures/torch_cnn_reference.py`.
private enum Reference {
    // BEGIN generated
    // Generated by Tests/Fixtures/torch_cnn_reference.py (torch 1.13.0a0, float64).
    // Over every forward pass: smallest |ReLU input| 1.86e-05; smallest gap between a
    // pooling window's positive maximum and its runner-up 6.32e-05.
    static let parameterCount = 828
    static let sample: [Int] = [
        0, 29, 54, 58, 87, 107, 108, 110, 111, 112, 116, 145, 174, 202, 203,
        232, 261, 290, 291, 292, 294, 296, 297, 319, 348, 377, 406, 432, 435, 464,
        493, 522, 551, 566, 567, 570, 572, 573, 580, 609, 638, 657, 667, 696, 725,
        740, 741, 744, 747, 748, 754, 783, 812, 817, 818, 823, 827,
    ]
    static let logits: [Double] = [
        0.5490629408578778, -1.4025404541446176, -0.8813025676801745, 0.32485924299592106,
        0.8460971528383698, -0.22698137497478893, 0.2942565099844777, -0.778822005698416,
        -0.4511851356185541, 0.9485777054607598, 0.543950554562211, -1.0706712836481547,
        -1.539773249678896, 0.8545074662195925, 0.38540548880999914, 0.5004458683546051,
        -0.06708708589866996, -0.9473170927025445, -0.28269862854555705, 0.9778616773276588,
        1.8457124040211403, -1.675301524887576, -1.3704527017338162, 0.73418762001024,
        1.0390364189130796, -0.028409155737673598, -0.6561932370294161, -0.04563774175990376,
        0.40923193801124924, 2.363851444916151, 1.918508349090851, -1.7783334750083777,
        -1.4799830482998746, 0.8978171778133601, 1.4065580727858569, 0.14021754737393008,
        -0.5693206132066387, -0.36692824390346224, 0.17415913107718184, 2.5196129575018027,
    ]
    static let loss = 2.0729728259312283
    static let gradient: [Double] = [
        -0.26769732158580734, -0.27525946158221465, 0.4821221759334887, 0.5699264358760229,
        -0.0056837210966236736, -0.15842000631364136, -0.19831946126517233, 0.4659327900427698,
        -0.2384079779033004, 0.6659280764111624, 0.34491213341697274, 0.19981804598691144,
        0.0492402844177904, -0.9322197557621624, -0.6850540628196478, 0.5592306319254706,
        -0.10547182966013405, -0.03017172233869235, -0.12098605057183884, 0.2473409519451959,
        -0.33077011561878555, -0.032183484378465826, -0.08325144624897571, -0.14311213977608314,
        -0.04332083622232193, 0.20491521124855908, 0.0, 0.15570004818054978,
        0.4509576548511029, -0.08495483308386745, 0.006384738785574419, 0.40177882403288867,
        0.1645564176166266, 0.001037090890181404, -0.2137052864624146, -0.028507057188619317,
        0.3764859774829864, 0.10721144436237746, 0.1493170642981745, 0.05810200207838877,
        -0.1146355478108271, -0.19233844912131284, 0.004524317035196276, 0.022114625126109073,
        0.027891264898322467, 0.013006346511625766, 0.22519211923573806, -0.2610890808649081,
        0.23868940214032536, -0.07369612441605011, 0.05786380037710145, -0.17137153401146507,
        0.009631587316871457, 0.00419002799429492, -0.06172433215238689, -0.18134856632380242,
        0.06290651901340112,
    ]
    static let sgdLosses: [Double] = [2.0729728259312283, 1.7399026469422696]
    static let sgdAfterStep1: [Double] = [
        -0.5746703988600572, -0.5454358541941592, 0.4325631636687957, -0.5247287302984608,
        -0.489813675660627, 0.5322772233883413, 0.5210126605523523, 0.03616321608062896,
        -0.19589684280713981, 0.38727815521856274, -0.4377903770366951, -0.41108704138694424,
        -0.3843288689958028, -0.14219220089725312, -0.3517335307479782, -0.33892398291997916,
        -0.3070245635286729, -0.2825251400242637, -0.48868666966323215, 0.33590872219462387,
        -0.07244949807124952, -0.4895746953251659, 0.2538005444024691, -0.22443320275664597,
        -0.20284468933717756, -0.18274060845579368, -0.15810502988830208, 0.41855064780978235,
        -0.1400281650807204, -0.11208261374636472, -0.09040957555950979, -0.07177708250643358,
        -0.04681842826199329, -0.12649438587889147, 0.20541495056402492, -0.35206328345359694,
        0.1724093172379117, 0.20923656298779572, -0.3355128304160931, -0.30367293793374395,
        -0.2710178205747005, -0.16508644539534253, -0.24128166246192276, -0.21052982368268058,
        -0.17965983331916474, -0.29085089059445046, 0.14001571222585993, 0.6149802869274688,
        -0.15084007283143347, 0.1381778942667341, -0.40144802971154897, -0.34188862466686265,
        -0.2864316041793454, -0.3550976625479498, 0.012070655338056253, -0.05545357348810598,
        0.3429732748168433,
    ]
    static let sgdAfterStep2: [Double] = [
        -0.5705959733490823, -0.5437135380951368, 0.42579430464449325, -0.5310383678593115,
        -0.48938950617907906, 0.5347217113905517, 0.5237175315017013, 0.030545966869634865,
        -0.19242904038394962, 0.3819357934282502, -0.44008354903802743, -0.41209704534893443,
        -0.38426037150243225, -0.12991621369147893, -0.34313958308516523, -0.34633841352494504,
        -0.3058803029703681, -0.28157862386412114, -0.48769229274143855, 0.33401133053593973,
        -0.06838963012049586, -0.48956016264961283, 0.2561188893284092, -0.22196818072463217,
        -0.2022526910378764, -0.18505890633189226, -0.15810352788696075, 0.41680379104360105,
        -0.14675970753649484, -0.11076897870967313, -0.09059835945270572, -0.07700926432199447,
        -0.04854636341855857, -0.12645677816567188, 0.208628074814039, -0.35158494402578294,
        0.16844550976059022, 0.20738683987130468, -0.33846935748435364, -0.3045937834348599,
        -0.2690872082873705, -0.1619455657663205, -0.2413859278421283, -0.21078726188022595,
        -0.17990914918590395, -0.2909651852083388, 0.1359786840454787, 0.6196184281480087,
        -0.15298685520768737, 0.13978849222666584, -0.40196499275351205, -0.33887491341701226,
        -0.2866524211253707, -0.35513199955266667, 0.013217063517789007, -0.05227341381065393,
        0.3418717851844449,
    ]
    static let sgdFinalLogits: [Double] = [
        0.3736772651236748, -0.9776120083368729, -0.9672620920456486, 0.5988549749122861,
        0.5963301234402237, -0.10622855483973295, -0.10940182837052925, -0.8284254119546892,
        0.10239735500458125, 0.7390420149434511, 0.695765361530218, -1.1360207163398015,
        -1.4670546073187665, 0.723266506296427, 0.37567972969879415, 0.306830661297237,
        -0.04632212192237267, -0.7406641705740888, -0.2896220030026555, 1.107560731033983,
        1.6364790858640874, -1.2119979036549617, -1.84107154528105, 0.7558018725984774,
        0.10993317103554939, 0.4570183433473837, -0.7362036267534705, 0.11112524641882549,
        -0.4567955480676342, 2.0704245504778602, 1.3972260443585294, -1.1611010097405836,
        -2.2775737145745296, 1.030910013078199, -0.10484353212713221, 0.9589636269674302,
        -0.4713743625250606, -0.3147979015532867, -0.5908794559247708, 1.866294043188213,
    ]
    static let nesterovLosses: [Double] = [2.0729728259312283, 1.7083391857604566]
    static let nesterovAfterStep1: [Double] = [
        -0.5722585248896203, -0.5429560521795653, 0.4282220958458187, -0.5298557325770701,
        -0.48976031774242734, 0.5337006153146184, 0.5227952000594639, 0.031969637267877604,
        -0.19375027873739714, 0.38128302980353673, -0.4408926316920245, -0.41288356289174777,
        -0.3847703042828289, -0.13380154127719152, -0.345566430546212, -0.3439555586072637,
        -0.3060739306980316, -0.28225232179599424, -0.48759559066267716, 0.33368113089991075,
        -0.06947222612157938, -0.4892828394203512, 0.25454866905688334, -0.22314417710412054,
        -0.20245388705606324, -0.1845840322414116, -0.1581043184121102, 0.4171474568822876,
        -0.14408617413768277, -0.11131751205133958, -0.0904666316507704, -0.07539278700438079,
        -0.048299232741638144, -0.12650315051598984, 0.20733738338707325, -0.35180513436337835,
        0.16902015065280432, 0.2082707135947539, -0.3368551808987922, -0.3041944920319992,
        -0.2699848758994871, -0.1633546478052585, -0.24132129574592484, -0.21072790891503515,
        -0.17991004748507053, -0.2909666394627918, 0.13798834294518686, 0.6173273329791921,
        -0.15298760940805153, 0.13884054089918751, -0.4019669999936606, -0.34034473464249837,
        -0.2865169999499573, -0.3551337750409794, 0.012626122786815958, -0.05382117868813706,
        0.3424055699274616,
    ]
    static let nesterovAfterStep2: [Double] = [
        -0.5678646017628205, -0.5452789110229811, 0.422969134540503, -0.5329851781678552,
        -0.48751740304311236, 0.537882245478562, 0.523871128515313, 0.029579810919959107,
        -0.1880393222583844, 0.38121126585428267, -0.4387580859044003, -0.4113967034769078,
        -0.38301742589247967, -0.12543225940234326, -0.34018059252659033, -0.3485993095441607,
        -0.3095924938346983, -0.2824870353532978, -0.4890442096681689, 0.3346809391552411,
        -0.06830390430050895, -0.49200302174980626, 0.25644091492187393, -0.21817978729930104,
        -0.19902637826339634, -0.18567034952334305, -0.1581021760925126, 0.41781824834230163,
        -0.14960482824295127, -0.11050675282989444, -0.09026585638894824, -0.08103171082206446,
        -0.04984323442561189, -0.12637648941906643, 0.21162217030865973, -0.348381917726864,
        0.16615056792844926, 0.20586950205984147, -0.34078715849565133, -0.30466100087275466,
        -0.2662671345474164, -0.1596376248732835, -0.24135467314921716, -0.21090418370901956,
        -0.18013353108893462, -0.29106804926122404, 0.1327096987366771, 0.6240956609790715,
        -0.15491893894471842, 0.1410623813495228, -0.40243025456106113, -0.3354942769184399,
        -0.28659113423200844, -0.35516290251384325, 0.01435492276180218, -0.04945033641124458,
        0.34118732397529633,
    ]
    static let nesterovFinalLogits: [Double] = [
        0.46776832695728676, -0.8335457037726581, -1.1501915620667877, 0.7314580592682275,
        0.39701707529249963, 0.01817724631189803, -0.32041618869605915, -0.7253667137081208,
        0.25662429237525897, 0.829054202879091, 0.9063122904792782, -1.0162496350077685,
        -1.7998432463243605, 0.8959196295749299, 0.08822961883954572, 0.5423637139640425,
        -0.2799587295199062, -0.5755057608487392, -0.21331794807684978, 1.3235574218277837,
        1.7709892345222418, -1.2345519822116577, -2.019727647420475, 0.8380919964234772,
        0.026902747253807924, 0.6568873115978344, -0.8233343902385775, 0.15734414152904508,
        -0.5657695562898405, 2.219265522267425, 1.4057535494809896, -0.945918828812603,
        -2.583972629751929, 1.2213278980854558, -0.3424184993745973, 1.242174914984152,
        -0.6495187392040208, -0.3730741908315355, -0.44003499336057483, 1.8836293976097187,
    ]
    // END generated
}
